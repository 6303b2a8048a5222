// A connection from rpool to Postgres: login (trust/md5/SCRAM), then relaying the results to its linked client.
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
class ClientConn;

class ServerConn : public IoHandler {
 public:
  enum class State { connecting, login, idle, active, resetting, closed };

  ServerConn(Worker& worker, Pool& pool);
  ~ServerConn() override;

  // Starts the non-blocking connect. False when it failed at once (the pool has been told).
  [[nodiscard]] bool start();
  void on_io(uint32_t events) override;

  // Pool-side transitions.
  void link(ClientConn* client);
  void park();  // now on the pool's idle list
  // The linked client went away. A server that is not clean is closed, never reused.
  void client_gone();
  // Client bytes to forward; counts the messages that each produce one ReadyForQuery.
  // ends_at_sync: the bytes end right after a Sync/Query/FunctionCall (or the CopyDone/CopyFail of a COPY), so a
  // ReadyForQuery may end the turn.
  void send_from_client(const char* data, size_t n, int expected_ready, bool ends_at_sync);
  bool output_backlogged() const;
  void resume_reading() { update_interest(); }
  void close(const char* reason);
  void connect_timed_out() { login_failed("server_connect_timeout reached", "08006"); }

  State state() const { return state_; }
  const char* state_name() const;
  // Nothing owed either way, not in a transaction, and not inside a message from the server (a partial one
  // would reach the next client).
  bool clean() const {
    return pending_ready_ == 0 && tx_status_ == 'I' && tail_synced_ && skip_ == 0 && stream_.in().empty() &&
           state_ != State::closed;
  }
  Pool& pool() { return pool_; }
  int generation() const { return generation_; }
  ClientConn* client() const { return client_; }
  uint32_t backend_pid() const { return backend_pid_; }
  // For query_timeout and idle_transaction_timeout: is a result owed, since when; the transaction status.
  bool busy() const { return pending_ready_ > 0; }
  // The linked client has received part of a message from this server (the rest is still to come).
  bool inside_message() const { return skip_ > 0; }
  int64_t query_started_us() const { return query_started_us_; }
  char tx_status() const { return tx_status_; }
  uint32_t backend_key() const { return backend_key_; }
  int fd() const { return stream_.fd(); }
  int64_t connect_time_unix() const { return connect_time_unix_; }
  int64_t idle_since_us() const { return idle_since_us_; }
  int64_t created_us() const { return created_us_; }
  uint64_t id() const { return reinterpret_cast<uint64_t>(this); }
  const PeerInfo& peer() { return peer_.fill(stream_.fd()); }
  uint64_t serial() const { return serial_; }

 private:
  void handle_login_input();
  void handle_login_message(char type, const char* body, size_t n);
  void relay_to_client();
  bool drop_own_results();
  void note_parameter(const char* body, size_t n);
  void handle_reset_input();
  void update_interest();
  void send_raw(const std::string& bytes);
  bool flush_or_close();
  void login_done();
  void login_failed(const std::string& message, const char* sqlstate);
  void set_state(State next);

  Worker& worker_;
  PeerInfo peer_;
  uint64_t serial_ = next_serial();
  Pool& pool_;
  Stream stream_;
  State state_ = State::connecting;
  ClientConn* client_ = nullptr;
  Interest interest_;
  int pending_ready_ = 0;   // ReadyForQuery messages still owed for what was forwarded
  char tx_status_ = 'I';
  bool tail_synced_ = true;
  uint32_t skip_ = 0;       // bytes of the current message still to relay
  uint32_t backend_pid_ = 0;
  uint32_t backend_key_ = 0;
  std::vector<std::pair<std::string, std::string>> login_params_;
  ParamSet params_;          // the server's current values, from its ParameterStatus messages
  bool params_synced_ = true;  // false from link() until the client's values were compared
  int drop_ready_ = 0;       // ReadyForQuery messages of rpool's own SET, swallowed with their results
  bool extended_ = false;    // a BindComplete since the last ReadyForQuery: the command came by Bind/Execute
  std::unique_ptr<auth::ScramClient> scram_;
  int64_t created_us_;
  int generation_;  // the pool's RECONNECT generation at creation
  int64_t connect_time_unix_;
  int64_t idle_since_us_ = 0;
  int64_t linked_at_us_ = 0;
  int64_t query_started_us_ = 0;
};

}  // namespace rpool
