// One pool per (database, server user) in a worker: idle servers in LIFO order and clients waiting for one.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "pooler/config.hpp"

namespace rpool {

class Worker;
class ClientConn;
class ServerConn;

struct PoolCounters {
  uint64_t xact_count = 0;
  uint64_t query_count = 0;
  uint64_t server_assignments = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t xact_time_us = 0;
  uint64_t query_time_us = 0;
  uint64_t wait_time_us = 0;
  uint64_t client_logins = 0;
};

// PgBouncer's avg_* figures: rates and means over the last stats_period.
struct PoolAverages {
  uint64_t xact_count = 0, query_count = 0, recv = 0, sent = 0;  // per second
  uint64_t xact_time_us = 0, query_time_us = 0, wait_time_us = 0;  // means
};

class Pool {
 public:
  Pool(Worker& worker, const DatabaseEntry& entry, std::string database, std::string server_user,
       std::string server_password, std::string server_dbname);

  const std::string& database() const { return database_; }
  const std::string& server_user() const { return server_user_; }
  const std::string& server_password() const { return server_password_; }
  const std::string& server_dbname() const { return server_dbname_; }
  const DatabaseEntry& entry() const { return entry_; }
  void update_entry(const DatabaseEntry& entry) { entry_ = entry; }
  PoolMode mode() const;
  int pool_size() const;

  // The client needs a server: linked at once (client->on_server_linked) or queued.
  void request_server(ClientConn* client);
  void forget_waiting(ClientConn* client);
  // A clean, idle server (after login, release or reset): handed to the first waiter or parked on top.
  void server_available(ServerConn* server);
  // The server's close path tells the pool; the pool adjusts its counts and refills if clients wait.
  void server_gone(ServerConn* server);
  // Login to Postgres failed: waiters get the error when nothing else can serve them.
  void login_failed(const std::string& message, const std::string& sqlstate);

  // ParameterStatus messages of the first server login, replayed to every client at its login.
  bool params_known() const { return params_known_; }
  const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }
  void set_params(std::vector<std::pair<std::string, std::string>> params);

  // SCRAM pass-through: keys from a client's login, for when auth_file has only the user's SCRAM secret.
  void set_scram_keys(std::string client_key, std::string server_key) {
    scram_client_key_ = std::move(client_key);
    scram_server_key_ = std::move(server_key);
  }
  const std::string& scram_client_key() const { return scram_client_key_; }
  const std::string& scram_server_key() const { return scram_server_key_; }

  void janitor(int64_t now_us);
  PoolCounters& counters() { return counters_; }
  const PoolAverages& averages() const { return averages_; }
  // Closes a stats_period of the given length: averages from the counters' growth since the last call.
  void roll_stats_period(double seconds);

  int cl_waiting() const { return static_cast<int>(waiting_.size()); }
  int sv_idle() const { return static_cast<int>(idle_.size()); }
  int sv_active() const { return active_; }
  int sv_login() const { return login_; }
  int sv_total() const { return static_cast<int>(idle_.size()) + active_ + login_ + other_; }
  int64_t max_wait_us(int64_t now_us) const;
  int cl_active = 0;  // logged-in clients of this pool, maintained by ClientConn

  // ServerConn::set_state reports every transition here, so the counts are the sizes of the state lists.
  void count_state(int state, int delta);
  void close_idle_servers();
  // RECONNECT: idle servers close now, busy ones when released.
  void reconnect();
  int generation() const { return generation_; }
  bool paused() const;

 private:
  void launch_if_needed(int64_t now_us);
  bool may_launch(bool use_reserve) const;

  Worker& worker_;
  DatabaseEntry entry_;
  std::string database_;
  std::string server_user_;
  std::string server_password_;
  std::string server_dbname_;
  std::vector<ServerConn*> idle_;  // back() is the most recently used
  std::deque<ClientConn*> waiting_;
  int active_ = 0;
  int login_ = 0;
  int other_ = 0;  // resetting
  bool params_known_ = false;
  std::vector<std::pair<std::string, std::string>> params_;
  PoolCounters counters_;
  PoolCounters period_start_;
  PoolAverages averages_;
  int generation_ = 0;
  std::string scram_client_key_;
  std::string scram_server_key_;
};

}  // namespace rpool
