// One worker process: its own SO_REUSEPORT listener, event loop, pools and connections.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pooler/config.hpp"
#include "pooler/event_loop.hpp"
#include "pooler/shared_stats.hpp"

namespace rpool {

class ClientConn;
class ServerConn;
class Pool;

class Worker {
 public:
  // shared_unix_fd: the unix listener every worker accepts from (-1 if none).
  // generation: how many workers this slot has had; the successor in a rolling restart differs from the
  // worker it replaces, so both can take cancel requests while they overlap.
  Worker(Config config, int index, int generation, SharedBlock* shared, int shared_unix_fd);
  ~Worker();

  // Opens the listeners, writes one byte to ready_fd, runs until shutdown. Returns the exit code.
  int run(int ready_fd);
  // One batch of the event loop (waits at most timeout_ms), then frees the connections closed in it, as run()
  // does; no janitor tick. For harnesses that drive a worker without run() (fuzz/fuzz_session.cpp).
  int step(int timeout_ms);

  const Config& config() const { return config_; }
  EventLoop& loop() { return loop_; }
  int index() const { return index_; }
  SharedBlock* shared() { return shared_; }
  bool shutting_down() const { return shutting_down_; }

  // auth_file lookup; nullptr when the user is unknown.
  const std::string* user_secret(const std::string& user) const;
  // The pool for a client's database and user, created on first use. nullptr + message on failure.
  Pool* pool_for(const DatabaseEntry& entry, const std::string& client_db, const std::string& client_user,
                 std::string* error);
  const std::vector<std::unique_ptr<Pool>>& pools() const { return pools_; }

  void server_created(ServerConn* server);
  // The connection has closed its socket; it is freed after the current event batch.
  void client_closed(ClientConn* client);
  void server_closed(ServerConn* server);
  int client_count() const { return static_cast<int>(clients_.size()); }
  int server_count() const { return static_cast<int>(servers_.size()); }
  const std::unordered_set<ClientConn*>& clients() const { return clients_; }
  const std::unordered_set<ServerConn*>& servers() const { return servers_; }

  // Cancel keys: the pid field carries the worker index (bits 22-29) and generation (bits 20-21), so any
  // worker can route a CancelRequest to the owner's private socket.
  void assign_cancel_key(ClientConn* client, uint32_t* pid, uint32_t* key);
  void forget_cancel_key(uint32_t pid, uint32_t key);
  void handle_cancel(uint32_t pid, uint32_t key);
  static int worker_of_cancel_pid(uint32_t pid) { return static_cast<int>((pid >> 22) & 0xFF) - 1; }
  static int generation_of_cancel_pid(uint32_t pid) { return static_cast<int>((pid >> 20) & 3); }

  // Figures for the shared block; called by the janitor and before answering an admin query.
  void publish_stats();
  uint64_t total_xacts() const;
  void request_shutdown(const char* why);
  void reload();
  void on_accept(int listen_fd, bool is_unix);
  void on_signal();
  void on_admin_timer();

  // Admin commands that act on every worker, through the shared mailbox.
  enum class Command { none = 0, pause = 1, resume = 2, reconnect = 3, kill = 4 };
  void broadcast_command(Command kind, const std::string& db);
  bool is_paused(const std::string& db) const { return paused_ && (paused_db_.empty() || paused_db_ == db); }
  bool pause_done() const;
  // Parks an admin client until the other workers have refreshed their figures (asked with SIGUSR1).
  void defer_admin(ClientConn* client);

 private:
  void janitor_tick();
  void free_closed();
  void stop_listening();
  void open_private_socket();
  void check_command();
  void apply_command(Command kind, const std::string& db);
  // At the file-descriptor limit: takes one pending connection with the spare descriptor, to be refused with
  // 53300, and stops accepting until that is done (end_refusal) or the janitor finds the spare back.
  class Refusal;
  void refuse_at_fd_limit(int listen_fd, int accept_errno);
  void end_refusal(bool tell);
  bool hold_spare_fd();  // opens the spare descriptor if it is not held; false when that fails
  void refusal_tick(int64_t now_us);
  void listen_on(int fd, uint32_t events, bool is_unix);
  void set_accepting(bool on);
  struct Listener {
    int fd;
    uint32_t events;
    IoHandler* handler;
  };

  Config config_;
  int index_;
  int generation_;
  SharedBlock* shared_;
  int shared_unix_fd_;
  EventLoop loop_;
  std::map<std::string, std::string> users_;
  std::vector<std::unique_ptr<Pool>> pools_;
  std::unordered_set<ClientConn*> clients_;
  std::unordered_set<ServerConn*> servers_;
  std::vector<ClientConn*> closed_clients_;
  std::vector<ServerConn*> closed_servers_;
  std::vector<ClientConn*> admin_waiting_;
  int64_t admin_asked_us_ = 0;
  // How long an admin query gives the other workers to publish their figures after it signalled them.
  static constexpr int64_t kAdminGatherUs = 20000;
  int admin_timer_fd_ = -1;  // timerfd: fires kAdminGatherUs after the first waiting admin query
  void answer_admins(int64_t now);
  void signal_other_workers();
  std::unordered_map<uint64_t, ClientConn*> cancel_keys_;
  uint32_t next_cancel_serial_ = 1;
  std::vector<std::unique_ptr<IoHandler>> handlers_;
  int tcp_fd_ = -1;
  int private_fd_ = -1;
  int worker_unix_fd_ = -1;  // unix_socket_dir/rpool-PORT-wN/.s.PGSQL.PORT: reaches this worker only
  int signal_fd_ = -1;
  int spare_fd_ = -1;  // /dev/null, given up for a moment so one more accept() works at the fd limit
  std::vector<Listener> listeners_;
  bool accepting_ = true;
  std::unique_ptr<Refusal> refusal_;
  std::vector<std::unique_ptr<Refusal>> ended_refusals_;
  int64_t fd_limit_logged_us_ = 0;
  uint64_t fd_limit_refused_ = 0;  // connections refused at the fd limit since the last log line
  bool shutting_down_ = false;
  int64_t shutdown_deadline_us_ = 0;
  int64_t started_unix_ = 0;
  uint64_t accepted_ = 0;
  uint64_t command_seen_ = 0;
  int64_t stats_period_start_us_ = 0;
  bool paused_ = false;
  std::string paused_db_;
};

// The abstract unix socket of worker i, used to forward cancel requests between workers.
std::string worker_private_socket(int port, int index, int generation);
// The folder of worker i's own unix socket, so `psql -h DIR` reaches one chosen worker.
std::string worker_unix_dir(const Config& config, int index);

}  // namespace rpool
