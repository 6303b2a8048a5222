// A connection from an application to rpool: startup, authentication, then queries relayed to a pooled server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pooler/auth.hpp"
#include "pooler/event_loop.hpp"
#include "pooler/listener.hpp"
#include "pooler/params.hpp"
#include "pooler/stream.hpp"

namespace rpool {

class Worker;
class Pool;
class ServerConn;

class ClientConn : public IoHandler {
 public:
  enum class State { startup, auth, wait_params, ready, admin, closed };

  ClientConn(Worker& worker, int fd, bool is_unix);
  ~ClientConn() override;

  void on_io(uint32_t events) override;

  // Called by the pool when a server is assigned (at once from request_server, or later from the queue).
  void on_server_linked(ServerConn* server);
  // Called by the server when it releases itself at ReadyForQuery (transaction and statement mode).
  void on_server_released();
  // Server bytes to the client. Returns false when the client's output is over the backpressure mark.
  void send_from_server(const char* data, size_t n);
  // The server died under the client.
  void on_server_lost(const std::string& message);
  // Disconnect with a FATAL error sent first (empty sqlstate: no error message).
  void fail(const char* sqlstate, const std::string& message);
  void close(const char* reason);
  void send(const std::string& bytes);
  void resume_reading() { update_interest(); }
  // Answers the admin query parked by handle_admin, once the other workers have published fresh figures.
  void answer_admin();
  const std::string& admin_sql() const { return admin_sql_; }
  bool output_backlogged() const;
  // True when results have waited for this client longer than limit_us without it reading any.
  bool write_stalled(int64_t now_us, int64_t limit_us);

  State state() const { return state_; }
  const char* state_name() const;
  Pool* pool() const { return pool_; }
  ServerConn* server() const { return server_; }
  bool waiting() const { return waiting_; }
  const std::string& user() const { return user_; }
  const std::string& database() const { return database_; }
  const std::string& application_name() const { return wanted_.get(tracked_param_index("application_name")); }
  ParamSet& wanted_params() { return wanted_; }
  int fd() const { return stream_.fd(); }
  bool is_unix() const { return is_unix_; }
  int64_t connect_time_unix() const { return connect_time_unix_; }
  int64_t created_us() const { return created_us_; }
  int64_t wait_start_us() const { return wait_start_us_; }
  int64_t last_active_us() const { return last_active_us_; }
  uint32_t cancel_pid() const { return cancel_pid_; }
  uint32_t cancel_key() const { return cancel_key_; }
  uint64_t id() const { return reinterpret_cast<uint64_t>(this); }
  const PeerInfo& peer() { return peer_.fill(stream_.fd()); }
  uint64_t serial() const { return serial_; }

 private:
  void handle_startup();
  void handle_auth();
  void handle_password(const char* body, size_t n);
  void begin_login(const std::string& user, const std::string& database);
  void auth_succeeded();
  void finish_login();
  void relay_to_server();
  void handle_admin();
  void update_interest();
  bool flush_or_close();
  void release_server();

  Worker& worker_;
  PeerInfo peer_;
  uint64_t serial_ = next_serial();
  Stream stream_;
  bool is_unix_;
  State state_ = State::startup;
  Pool* pool_ = nullptr;
  ServerConn* server_ = nullptr;
  bool waiting_ = false;
  bool counted_active_ = false;
  bool in_relay_ = false;
  bool admin_ = false;
  bool admin_pending_ = false;
  std::string admin_sql_;
  Interest interest_;
  uint32_t skip_ = 0;  // bytes of the current message still to relay
  // The last message relayed (whole or in part) ends the client's turn: Query, Sync, FunctionCall, or the
  // CopyDone/CopyFail of a simple-query COPY. Kept across reads: a read may hold only the rest of a message.
  bool ends_turn_ = true;
  std::string user_;
  std::string database_;
  ParamSet wanted_;  // session parameters this client expects on any server
  std::string secret_;  // auth_file entry
  bool user_known_ = false;
  char md5_salt_[4] = {0, 0, 0, 0};
  bool use_scram_ = false;
  int scram_step_ = 0;
  std::unique_ptr<auth::ScramServer> scram_;
  std::string scram_client_key_;  // from a successful SCRAM login, for pass-through to Postgres
  std::string scram_server_key_;
  uint32_t cancel_pid_ = 0;
  uint32_t cancel_key_ = 0;
  int64_t created_us_;
  int64_t connect_time_unix_;
  int64_t wait_start_us_ = 0;
  int64_t last_active_us_ = 0;
  uint64_t stall_bytes_out_ = 0;
  int64_t stall_since_us_ = 0;
};

}  // namespace rpool
