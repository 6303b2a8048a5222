// The rpool configuration: a PgBouncer-style ini file and the auth_file, parsed into plain structs.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace rpool {

enum class PoolMode { session, transaction, statement };
enum class AuthType { trust, md5, scram };

const char* pool_mode_name(PoolMode mode);

// Bad user input: the message names the file, line and key.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One [databases] entry. Empty fields fall back to the client's values or the defaults.
struct DatabaseEntry {
  std::string name;      // what clients ask for ("*" is the fallback entry)
  std::string host = "127.0.0.1";  // a path starting with '/' means a unix socket directory
  int port = 5432;
  std::string dbname;    // the server database; empty: the client's name
  std::string user;      // forced server user; empty: the client's user
  std::string password;  // password for the forced user
  int pool_size = -1;    // -1: default_pool_size
  int max_db_connections = -1;
};

struct Config {
  std::string path;
  std::vector<DatabaseEntry> databases;

  std::string listen_addr = "127.0.0.1";
  int listen_port = 6432;
  std::string unix_socket_dir = "/tmp";
  AuthType auth_type = AuthType::md5;
  std::string auth_file;
  std::vector<std::string> admin_users;
  std::vector<std::string> stats_users;
  std::vector<std::string> ignore_startup_parameters;  // accepted from clients and dropped
  PoolMode pool_mode = PoolMode::session;
  int default_pool_size = 20;
  int min_pool_size = 0;
  int reserve_pool_size = 0;
  double reserve_pool_timeout = 5.0;
  int max_client_conn = 100;
  int max_db_connections = 0;  // 0: unlimited
  std::string server_reset_query = "DISCARD ALL";
  double server_idle_timeout = 600.0;
  double server_lifetime = 3600.0;
  double server_connect_timeout = 15.0;
  double query_wait_timeout = 120.0;
  double client_idle_timeout = 0.0;
  double idle_transaction_timeout = 0.0;
  double query_timeout = 0.0;
  double client_login_timeout = 60.0;
  double client_write_timeout = 60.0;  // rpool: a client that reads nothing of its results this long is closed
  double stats_period = 60.0;  // SHOW STATS averages cover this many seconds
  double shutdown_timeout = 30.0;  // rpool: how long SIGTERM waits for clients
  std::string logfile;
  std::string pidfile;
  int listen_backlog = 128;
  int workers = 0;            // 0: number of CPUs
  std::vector<int> cpu_affinity;  // empty: none
  bool verbose = false;

  // Every key as written (or defaulted), in file order of the known key table, for SHOW CONFIG.
  std::vector<std::pair<std::string, std::string>> shown;

  const DatabaseEntry* find_database(const std::string& name) const;
  bool is_admin(const std::string& user) const;
  bool is_stats_user(const std::string& user) const;
};

// Throws ConfigError with "FILE:LINE: key 'k': message".
Config parse_config_file(const std::string& path);
Config parse_config_text(const std::string& text, const std::string& path);

// Keys known to rpool with their default values and whether a reload can change them.
struct ConfigKeyInfo {
  const char* name;
  const char* default_value;
  bool changeable;
};
const std::vector<ConfigKeyInfo>& config_keys();

// auth_file: lines of "user" "password-or-secret". Returns user -> secret. Throws ConfigError, also when the
// file is readable or writable by others (it holds passwords or their hashes), as Postgres refuses a key file.
std::map<std::string, std::string> load_auth_file(const std::string& path);
// The parser behind load_auth_file, for text already read; `path` only names the source in errors.
std::map<std::string, std::string> parse_auth_text(const std::string& text, const std::string& path);

}  // namespace rpool
