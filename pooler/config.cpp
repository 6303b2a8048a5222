// Parses the ini file and the auth_file with one-line errors naming the file, line and key.
#include "pooler/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rpool {
namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Where {
  const std::string& path;
  int line;
  std::string key;
  [[noreturn]] void fail(const std::string& msg) const {
    throw ConfigError(path + ":" + std::to_string(line) + ": key '" + key + "': " + msg);
  }
};

int parse_int(const Where& w, const std::string& v, int lo, int hi) {
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0) w.fail("'" + v + "' is not an integer");
  if (x < lo || x > hi) w.fail("'" + v + "' is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(x);
}

double parse_seconds(const Where& w, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno != 0 || !(x >= 0 && x <= 1e9))
    w.fail("'" + v + "' is not a number of seconds in [0, 1e9]");
  return x;
}

bool parse_bool(const Where& w, const std::string& v) {
  std::string l = lower(v);
  if (l == "1" || l == "yes" || l == "on" || l == "true") return true;
  if (l == "0" || l == "no" || l == "off" || l == "false") return false;
  w.fail("'" + v + "' is not a boolean");
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// "host=... port=... dbname=..." as in a libpq connection string, values optionally single-quoted.
DatabaseEntry parse_database(const Where& w, const std::string& name, const std::string& v) {
  DatabaseEntry db;
  db.name = name;
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && std::isspace(static_cast<unsigned char>(v[i]))) ++i;
    if (i >= v.size()) break;
    size_t eq = v.find('=', i);
    if (eq == std::string::npos) w.fail("expected key=value in '" + v.substr(i) + "'");
    std::string k = trim(v.substr(i, eq - i));
    i = eq + 1;
    std::string val;
    if (i < v.size() && v[i] == '\'') {
      ++i;
      while (i < v.size() && v[i] != '\'') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        val += v[i++];
      }
      if (i >= v.size()) w.fail("unterminated quote");
      ++i;
    } else {
      while (i < v.size() && !std::isspace(static_cast<unsigned char>(v[i]))) val += v[i++];
    }
    Where kw{w.path, w.line, name + "." + k};
    if (k == "host") db.host = val;
    else if (k == "port") db.port = parse_int(kw, val, 1, 65535);
    else if (k == "dbname") db.dbname = val;
    else if (k == "user") db.user = val;
    else if (k == "password") db.password = val;
    else if (k == "pool_size") db.pool_size = parse_int(kw, val, 0, 100000);
    else if (k == "max_db_connections") db.max_db_connections = parse_int(kw, val, 0, 100000);
    else kw.fail("unknown database parameter");
  }
  return db;
}

void apply_key(Config& c, const Where& w, const std::string& key, const std::string& v) {
  if (key == "listen_addr") c.listen_addr = v;
  else if (key == "listen_port") c.listen_port = parse_int(w, v, 1, 65535);
  else if (key == "unix_socket_dir") c.unix_socket_dir = v;
  else if (key == "auth_type") {
    if (v == "trust") c.auth_type = AuthType::trust;
    else if (v == "md5" || v == "plain") c.auth_type = AuthType::md5;
    else if (v == "scram-sha-256") c.auth_type = AuthType::scram;
    else w.fail("'" + v + "' is not one of trust, md5, scram-sha-256");
  } else if (key == "auth_file") c.auth_file = v;
  else if (key == "admin_users") c.admin_users = split_list(v);
  else if (key == "stats_users") c.stats_users = split_list(v);
  else if (key == "ignore_startup_parameters") c.ignore_startup_parameters = split_list(v);
  else if (key == "pool_mode") {
    if (v == "session") c.pool_mode = PoolMode::session;
    else if (v == "transaction") c.pool_mode = PoolMode::transaction;
    else if (v == "statement") c.pool_mode = PoolMode::statement;
    else w.fail("'" + v + "' is not one of session, transaction, statement");
  } else if (key == "default_pool_size") c.default_pool_size = parse_int(w, v, 1, 100000);
  else if (key == "min_pool_size") c.min_pool_size = parse_int(w, v, 0, 100000);
  else if (key == "reserve_pool_size") c.reserve_pool_size = parse_int(w, v, 0, 100000);
  else if (key == "reserve_pool_timeout") c.reserve_pool_timeout = parse_seconds(w, v);
  else if (key == "max_client_conn") c.max_client_conn = parse_int(w, v, 1, 1000000);
  else if (key == "max_db_connections") c.max_db_connections = parse_int(w, v, 0, 100000);
  else if (key == "server_reset_query") c.server_reset_query = v;
  else if (key == "server_idle_timeout") c.server_idle_timeout = parse_seconds(w, v);
  else if (key == "server_lifetime") c.server_lifetime = parse_seconds(w, v);
  else if (key == "server_connect_timeout") c.server_connect_timeout = parse_seconds(w, v);
  else if (key == "query_wait_timeout") c.query_wait_timeout = parse_seconds(w, v);
  else if (key == "client_idle_timeout") c.client_idle_timeout = parse_seconds(w, v);
  else if (key == "idle_transaction_timeout") c.idle_transaction_timeout = parse_seconds(w, v);
  else if (key == "query_timeout") c.query_timeout = parse_seconds(w, v);
  else if (key == "client_login_timeout") c.client_login_timeout = parse_seconds(w, v);
  else if (key == "client_write_timeout") c.client_write_timeout = parse_seconds(w, v);
  else if (key == "shutdown_timeout") c.shutdown_timeout = parse_seconds(w, v);
  else if (key == "stats_period") {
    c.stats_period = parse_seconds(w, v);
    if (c.stats_period < 1) w.fail("must be at least 1 second");
  }
  else if (key == "logfile") c.logfile = v;
  else if (key == "pidfile") c.pidfile = v;
  else if (key == "listen_backlog") c.listen_backlog = parse_int(w, v, 1, 65535);
  else if (key == "workers") c.workers = parse_int(w, v, 0, 64);
  else if (key == "verbose") c.verbose = parse_int(w, v, 0, 10) > 0;
  else if (key == "so_reuseport") {
    if (!parse_bool(w, v)) w.fail("rpool always uses SO_REUSEPORT; 0 is not supported");
  } else if (key == "cpu_affinity") {
    c.cpu_affinity.clear();
    if (lower(v) == "none" || v.empty()) return;
    for (const auto& item : split_list(v)) c.cpu_affinity.push_back(parse_int(w, item, 0, 4095));
  } else w.fail("unknown key");
}

}  // namespace

const char* pool_mode_name(PoolMode mode) {
  switch (mode) {
    case PoolMode::session: return "session";
    case PoolMode::transaction: return "transaction";
    case PoolMode::statement: return "statement";
  }
  return "?";
}

const std::vector<ConfigKeyInfo>& config_keys() {
  static const std::vector<ConfigKeyInfo> keys = {
      {"listen_addr", "127.0.0.1", false},     {"listen_port", "6432", false},
      {"unix_socket_dir", "/tmp", false},      {"auth_type", "md5", true},
      {"auth_file", "", true},                 {"admin_users", "", true},
      {"stats_users", "", true},               {"ignore_startup_parameters", "", true},
      {"pool_mode", "session", true},
      {"default_pool_size", "20", true},       {"min_pool_size", "0", true},
      {"reserve_pool_size", "0", true},        {"reserve_pool_timeout", "5", true},
      {"max_client_conn", "100", true},        {"max_db_connections", "0", true},
      {"server_reset_query", "DISCARD ALL", true}, {"server_idle_timeout", "600", true},
      {"server_lifetime", "3600", true},       {"server_connect_timeout", "15", true},
      {"query_wait_timeout", "120", true},     {"client_idle_timeout", "0", true},
      {"idle_transaction_timeout", "0", true}, {"query_timeout", "0", true},
      {"client_login_timeout", "60", true},    {"client_write_timeout", "60", true},
      {"shutdown_timeout", "30", true},        {"stats_period", "60", true},
      {"logfile", "", false},                  {"pidfile", "", false},
      {"listen_backlog", "128", false},        {"workers", "0", false},
      {"cpu_affinity", "none", false},         {"so_reuseport", "1", false},
      {"verbose", "0", true},
  };
  return keys;
}

const DatabaseEntry* Config::find_database(const std::string& name) const {
  const DatabaseEntry* fallback = nullptr;
  for (const auto& db : databases) {
    if (db.name == name) return &db;
    if (db.name == "*") fallback = &db;
  }
  return fallback;
}

bool Config::is_admin(const std::string& user) const {
  return std::find(admin_users.begin(), admin_users.end(), user) != admin_users.end();
}

bool Config::is_stats_user(const std::string& user) const {
  return is_admin(user) || std::find(stats_users.begin(), stats_users.end(), user) != stats_users.end();
}

Config parse_config_text(const std::string& text, const std::string& path) {
  Config c;
  c.path = path;
  std::map<std::string, std::string> written;
  std::stringstream in(text);
  std::string raw;
  std::string section;
  int lineno = 0;
  while (std::getline(in, raw)) {
    ++lineno;
    std::string line = trim(raw);
    if (line.empty() || line[0] == ';' || line[0] == '#') continue;
    Where w{path, lineno, ""};
    if (line[0] == '[') {
      if (line.back() != ']') w.fail("section header without ']'");
      section = lower(trim(line.substr(1, line.size() - 2)));
      if (section == "rpool") section = "pgbouncer";
      if (section != "pgbouncer" && section != "databases" && section != "users")
        throw ConfigError(path + ":" + std::to_string(lineno) + ": unknown section [" + section + "]");
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos)
      throw ConfigError(path + ":" + std::to_string(lineno) + ": expected 'key = value', got '" + line + "'");
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    w.key = key;
    if (section.empty()) w.fail("key outside of any section");
    if (section == "databases") {
      c.databases.push_back(parse_database(w, key, value));
    } else if (section == "pgbouncer") {
      apply_key(c, w, lower(key), value);
      written[lower(key)] = value;
    }  // [users] is accepted and ignored
  }
  for (const auto& k : config_keys()) {
    auto it = written.find(k.name);
    c.shown.emplace_back(k.name, it != written.end() ? it->second : k.default_value);
  }
  if (c.workers == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c.workers = n > 0 ? static_cast<int>(std::min<long>(n, 64)) : 1;
  }
  if (!c.cpu_affinity.empty() && static_cast<int>(c.cpu_affinity.size()) != c.workers)
    throw ConfigError(path + ": key 'cpu_affinity': needs one CPU per worker (" + std::to_string(c.workers) +
                      "), got " + std::to_string(c.cpu_affinity.size()));
  if (c.auth_type != AuthType::trust && c.auth_file.empty())
    throw ConfigError(path + ": key 'auth_file': required unless auth_type = trust");
  return c;
}

Config parse_config_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw ConfigError(path + ": cannot open the configuration file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_config_text(ss.str(), path);
}

std::map<std::string, std::string> load_auth_file(const std::string& path) {
  if (path.empty()) return {};
  // One open: the mode checked is the mode of the file read (no window for a swap between stat and open).
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(path + ": cannot open auth_file: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    throw ConfigError(path + ": cannot stat auth_file: " + std::strerror(err));
  }
  if (st.st_mode & (S_IROTH | S_IWOTH)) {
    close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw ConfigError(path + ": auth_file is " + ((st.st_mode & S_IROTH) ? "readable" : "writable") +
                      " by others (mode " + mode + "); run chmod o-rwx on it");
  }
  std::string text;
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      throw ConfigError(path + ": cannot read auth_file: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  return parse_auth_text(text, path);
}

std::map<std::string, std::string> parse_auth_text(const std::string& text, const std::string& path) {
  std::map<std::string, std::string> users;
  std::istringstream f(text);
  std::string line;
  int lineno = 0;
  auto read_quoted = [&](size_t& i, std::string& out) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size() || line[i] != '"') return false;
    ++i;
    while (i < line.size()) {
      if (line[i] == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          out += '"';
          i += 2;
          continue;
        }
        ++i;
        return true;
      }
      out += line[i++];
    }
    return false;
  };
  while (std::getline(f, line)) {
    ++lineno;
    std::string t = trim(line);
    if (t.empty() || t[0] == ';' || t[0] == '#') continue;
    size_t i = 0;
    std::string user, secret;
    if (!read_quoted(i, user) || !read_quoted(i, secret))
      throw ConfigError(path + ":" + std::to_string(lineno) + ": expected \"user\" \"password\"");
    users[user] = secret;
  }
  return users;
}

}  // namespace rpool
