// Client side: startup packet, authentication against auth_file, then relaying queries to pooled servers.
#include "pooler/client_conn.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "pooler/admin.hpp"
#include "pooler/log.hpp"
#include "pooler/pool.hpp"
#include "pooler/protocol.hpp"
#include "pooler/server_conn.hpp"
#include "pooler/worker.hpp"

namespace rpool {

namespace {
constexpr size_t kBackpressureBytes = 512 * 1024;
bool is_admin_db(const std::string& db) { return db == "pgbouncer" || db == "rpool"; }
}  // namespace

ClientConn::ClientConn(Worker& worker, int fd, bool is_unix)
    : worker_(worker), stream_(fd), is_unix_(is_unix), created_us_(EventLoop::now_us()),
      connect_time_unix_(static_cast<int64_t>(time(nullptr))) {
  last_active_us_ = created_us_;
  update_interest();
}

ClientConn::~ClientConn() = default;

const char* ClientConn::state_name() const {
  if (waiting_) return "waiting";
  switch (state_) {
    case State::startup:
    case State::auth: return "login";
    case State::wait_params: return "waiting";
    case State::ready: return server_ ? "active" : "idle";
    case State::admin: return "active";
    case State::closed: return "closed";
  }
  return "?";
}

bool ClientConn::output_backlogged() const { return stream_.out().size() > kBackpressureBytes; }

bool ClientConn::write_stalled(int64_t now_us, int64_t limit_us) {
  if (stream_.out().empty() || stream_.bytes_out() != stall_bytes_out_) {
    stall_bytes_out_ = stream_.bytes_out();
    stall_since_us_ = now_us;
    return false;
  }
  return limit_us > 0 && now_us - stall_since_us_ > limit_us;
}

void ClientConn::update_interest() {
  if (state_ == State::closed || stream_.fd() < 0) return;
  uint32_t want = EPOLLRDHUP;
  if (!stream_.out().empty()) want |= EPOLLOUT;
  bool paused = admin_pending_ || waiting_ || state_ == State::wait_params || (server_ && server_->output_backlogged());
  if (!paused) want |= EPOLLIN;
  interest_.set(worker_.loop(), stream_.fd(), want, this);
}

void ClientConn::send(const std::string& bytes) {
  stream_.out().append(bytes);
  flush_or_close();
}

bool ClientConn::flush_or_close() {
  if (!stream_.flush()) {
    close(errno == EPIPE || errno == ECONNRESET ? "client closed the connection" : "send() to client failed");
    return false;
  }
  update_interest();
  return true;
}

void ClientConn::send_from_server(const char* data, size_t n) {
  stream_.out().append(data, n);
  // A failed send is noticed by the event loop as EPOLLERR on this socket; closing here would pull the
  // server out from under the caller, which is in the middle of its own input.
  if (!stream_.flush()) return;
  if (!stream_.out().empty()) update_interest();
}

void ClientConn::on_io(uint32_t events) {
  if (state_ == State::closed) return;
  if (events & EPOLLOUT) {
    if (!flush_or_close()) return;
    if (server_ && !output_backlogged()) server_->resume_reading();
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
    if (waiting_ || state_ == State::wait_params || admin_pending_) {
      // Not reading while queued; a hang-up still ends the wait.
      if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) close("client closed the connection while waiting");
      return;
    }
    ReadResult r = stream_.read_some();
    last_active_us_ = EventLoop::now_us();
    if (!stream_.in().empty()) {
      switch (state_) {
        case State::startup: handle_startup(); break;
        case State::auth: handle_auth(); break;
        case State::ready: relay_to_server(); break;
        case State::admin: handle_admin(); break;
        default: break;
      }
    }
    if (state_ == State::closed) return;
    if (r == ReadResult::closed) close("client closed the connection");
    else if (r == ReadResult::error) close("recv() from client failed");
  }
}

void ClientConn::handle_startup() {
  Buffer& in = stream_.in();
  while (state_ == State::startup && in.size() >= 4) {
    uint32_t len = pg::read_u32(in.data());
    if (len < 8 || len > pg::kMaxStartupLength) {
      fail("08P01", "invalid startup packet length " + std::to_string(len));
      return;
    }
    if (in.size() < len) return;
    uint32_t code = pg::read_u32(in.data() + 4);
    std::string body(in.data() + 8, len - 8);
    in.consume(len);
    if (code == pg::kSslRequestCode || code == pg::kGssEncRequestCode) {
      if (len != 8) return fail("08P01", "bad SSLRequest/GSSENCRequest length");
      send("N");  // encryption is not offered; the client continues in plain text
      continue;
    }
    if (code == pg::kCancelRequestCode) {
      if (len != 16) return close("bad CancelRequest length");
      uint32_t pid = pg::read_u32(body.data());
      uint32_t key = pg::read_u32(body.data() + 4);
      worker_.handle_cancel(pid, key);
      close("cancel request handled");
      return;
    }
    if (code >> 16 != 3) {
      fail("0A000", "unsupported frontend protocol " + std::to_string(code >> 16) + "." +
                        std::to_string(code & 0xFFFF));
      return;
    }
    pg::StartupParams params;
    if (!pg::parse_startup_params(body.data(), body.size(), params)) {
      fail("08P01", "invalid startup packet layout");
      return;
    }
    std::string user = params.get("user");
    if (user.empty()) return fail("28000", "no PostgreSQL user name specified in startup packet");
    std::string database = params.get("database");
    if (database.empty()) database = user;
    for (const auto& [k, v] : params.items) {
      if (k == "user" || k == "database" || wanted_.set(k, v)) continue;
      const auto& ignored = worker_.config().ignore_startup_parameters;
      if (std::find(ignored.begin(), ignored.end(), k) != ignored.end()) continue;
      // A pooled server cannot honour e.g. "options" or "replication" for this client only: refuse, as PgBouncer does.
      return fail("08P01", "unsupported startup parameter: " + k);
    }
    begin_login(user, database);
  }
}

void ClientConn::begin_login(const std::string& user, const std::string& database) {
  user_ = user;
  database_ = database;
  const Config& cfg = worker_.config();
  // A worker that is shutting down still logs in clients it accepted before closing its listener.
  if (worker_.client_count() > cfg.max_client_conn)
    return fail("53300", "no more connections allowed (max_client_conn)");
  admin_ = is_admin_db(database);
  if (admin_) {
    if (!cfg.is_stats_user(user)) return fail("28000", "not allowed");
  } else if (!cfg.find_database(database)) {
    return fail("3D000", "no such database: " + database);
  }
  const std::string* secret = worker_.user_secret(user);
  user_known_ = secret != nullptr;
  if (secret) secret_ = *secret;
  if (cfg.auth_type == AuthType::trust) {
    if (!cfg.auth_file.empty() && !user_known_) return fail("28000", "no such user: " + user);
    auth_succeeded();
    return;
  }
  // Unknown users still get a challenge, so the reply does not reveal which user names exist.
  bool secret_is_scram = secret_.rfind("SCRAM-SHA-256$", 0) == 0;
  use_scram_ = cfg.auth_type == AuthType::scram || secret_is_scram;
  state_ = State::auth;
  if (use_scram_) {
    send(pg::auth_request(pg::kAuthSasl, std::string("SCRAM-SHA-256\0\0", 15)));
  } else {
    std::string salt = auth::random_bytes(4);
    std::memcpy(md5_salt_, salt.data(), 4);
    send(pg::auth_request(pg::kAuthMd5, std::string_view(md5_salt_, 4)));
  }
}

void ClientConn::handle_auth() {
  Buffer& in = stream_.in();
  while (state_ == State::auth && in.size() >= 5) {
    char type = in.data()[0];
    uint32_t len = pg::read_u32(in.data() + 1);
    if (type != pg::kPasswordMessage) return fail("08P01", "expected a password message");
    if (len < 4 || len > pg::kMaxStartupLength) return fail("08P01", "invalid password message length");
    if (in.size() < 1 + static_cast<size_t>(len)) return;
    std::string body(in.data() + 5, len - 4);
    in.consume(1 + len);
    handle_password(body.data(), body.size());
  }
}

void ClientConn::handle_password(const char* body, size_t n) {
  const std::string failed = "password authentication failed for user \"" + user_ + "\"";
  if (!use_scram_) {
    pg::MessageReader r(body, n);
    std::string given = r.str();
    if (!r.ok() || !user_known_ || given != auth::md5_response(secret_, user_, md5_salt_)) {
      log_info("login failed: user=%s db=%s (md5)", user_.c_str(), database_.c_str());
      return fail("28P01", failed);
    }
    return auth_succeeded();
  }
  pg::MessageReader r(body, n);
  if (scram_step_ == 0) {
    std::string mech = r.str();
    uint32_t len = r.u32();
    std::string_view data = r.bytes(len);
    if (!r.ok() || mech != "SCRAM-SHA-256") return fail("08P01", "bad SASLInitialResponse");
    auto secret = user_known_ ? auth::scram_secret_from(secret_) : std::nullopt;
    // An unknown user gets a made-up secret, so the exchange fails only at the proof.
    if (!secret) secret = auth::scram_secret_from(auth::random_bytes(16));
    scram_ = std::make_unique<auth::ScramServer>(*secret);
    auto reply = scram_->first(std::string(data));
    if (!reply) return fail("08P01", "bad SCRAM client-first-message");
    scram_step_ = 1;
    send(pg::auth_request(pg::kAuthSaslContinue, *reply));
    return;
  }
  auto reply = scram_->final(std::string(body, n));
  if (!reply || !user_known_) {
    log_info("login failed: user=%s db=%s (scram-sha-256)", user_.c_str(), database_.c_str());
    return fail("28P01", failed);
  }
  send(pg::auth_request(pg::kAuthSaslFinal, *reply));
  if (secret_.rfind("SCRAM-SHA-256$", 0) == 0) {
    scram_client_key_ = scram_->client_key();
    scram_server_key_ = scram_->server_key();
  }
  auth_succeeded();
}

void ClientConn::auth_succeeded() {
  scram_.reset();
  send(pg::auth_request(pg::kAuthOk));
  if (state_ == State::closed) return;
  worker_.assign_cancel_key(this, &cancel_pid_, &cancel_key_);
  if (admin_) {
    state_ = State::admin;
    std::string out;
    out += pg::parameter_status("server_version", "15.0 (rpool)");
    out += pg::parameter_status("server_encoding", "UTF8");
    out += pg::parameter_status("client_encoding", "UTF8");
    out += pg::parameter_status("DateStyle", "ISO, MDY");
    out += pg::parameter_status("integer_datetimes", "on");
    out += pg::parameter_status("standard_conforming_strings", "on");
    out += pg::backend_key_data(cancel_pid_, cancel_key_);
    out += pg::ready_for_query('I');
    send(out);
    // A query that came in the same read as the startup packet is already buffered: no read event will
    // announce it again, so answer it now (finish_login does the same for pooled clients).
    if (state_ != State::closed && !stream_.in().empty()) handle_admin();
    return;
  }
  const DatabaseEntry* entry = worker_.config().find_database(database_);
  std::string error;
  pool_ = worker_.pool_for(*entry, database_, user_, &error);
  if (!pool_) return fail("08P01", error);
  ++pool_->cl_active;
  counted_active_ = true;
  if (!scram_client_key_.empty() && pool_->server_user() == user_ && pool_->server_password() == secret_)
    pool_->set_scram_keys(scram_client_key_, scram_server_key_);
  ++pool_->counters().client_logins;
  if (pool_->params_known()) {
    finish_login();
    return;
  }
  // The first client of a pool waits for a server login, whose ParameterStatus messages it then receives.
  state_ = State::wait_params;
  waiting_ = true;
  wait_start_us_ = EventLoop::now_us();
  update_interest();
  pool_->request_server(this);
}

void ClientConn::finish_login() {
  state_ = State::ready;
  std::string out;
  for (const auto& [name, value] : pool_->params()) {
    int i = tracked_param_index(name);
    if (i >= 0 && wanted_.has(i)) {
      out += pg::parameter_status(name, wanted_.get(i));
    } else {
      if (i >= 0) wanted_.set(name, value);
      out += pg::parameter_status(name, value);
    }
  }
  out += pg::backend_key_data(cancel_pid_, cancel_key_);
  out += pg::ready_for_query('I');
  send(out);
  if (state_ == State::closed) return;
  if (server_ && pool_->mode() != PoolMode::session) release_server();
  update_interest();
  if (!stream_.in().empty()) relay_to_server();
}

void ClientConn::on_server_linked(ServerConn* server) {
  server_ = server;
  waiting_ = false;
  if (state_ == State::wait_params) {
    finish_login();
    return;
  }
  if (in_relay_) return;  // the relay loop that asked will continue with the server
  update_interest();
  relay_to_server();
}

void ClientConn::release_server() {
  ServerConn* s = server_;
  server_ = nullptr;
  if (s) s->client_gone();
}

void ClientConn::on_server_released() {
  server_ = nullptr;
  if (state_ == State::closed) return;
  update_interest();
  if (!stream_.in().empty()) relay_to_server();
}

void ClientConn::on_server_lost(const std::string& message) {
  bool inside = server_ && server_->inside_message();
  server_ = nullptr;
  fail(inside ? "" : "08006", message);
}

void ClientConn::relay_to_server() {
  Buffer& in = stream_.in();
  in_relay_ = true;
  while (state_ == State::ready && !in.empty()) {
    const char* p = in.data();
    size_t n = in.size();
    bool terminate = false;
    if (!server_) {
      if (n < 5) break;
      if (p[0] == pg::kTerminate) {
        terminate = true;
      } else {
        if (waiting_) break;
        waiting_ = true;
        wait_start_us_ = EventLoop::now_us();
        pool_->request_server(this);
        if (state_ == State::closed) return;
        if (!server_) {
          update_interest();  // stop reading until a server is assigned
          break;
        }
      }
    }
    size_t pos = 0;
    int expected = 0;
    while (!terminate && pos < n) {
      if (skip_ > 0) {
        size_t take = std::min<size_t>(skip_, n - pos);
        pos += take;
        skip_ -= static_cast<uint32_t>(take);
        continue;
      }
      if (n - pos < 5) break;
      char type = p[pos];
      uint32_t len = pg::read_u32(p + pos + 1);
      if (len < 4 || len > pg::kMaxMessageLength) {
        in_relay_ = false;
        fail("08P01", "invalid message length " + std::to_string(len));
        return;
      }
      if (type == pg::kTerminate) {
        terminate = true;
        break;
      }
      bool syncs = type == pg::kQuery || type == pg::kSync || type == pg::kFunctionCall;
      if (syncs) ++expected;
      if (type == pg::kQuery || type == pg::kExecute) ++pool_->counters().query_count;
      ends_turn_ = syncs || type == pg::kCopyDone || type == pg::kCopyFail;
      pos += 5;
      skip_ = len - 4;
    }
    if (pos > 0) {
      pool_->counters().bytes_received += pos;
      server_->send_from_client(p, pos, expected, ends_turn_ && skip_ == 0);
      if (state_ == State::closed) return;  // the server failed and took this client with it
      in.consume(pos);
    }
    if (terminate) {
      in_relay_ = false;
      close("client sent Terminate");
      return;
    }
    break;
  }
  in_relay_ = false;
  update_interest();
}

void ClientConn::handle_admin() {
  Buffer& in = stream_.in();
  while (state_ == State::admin && !admin_pending_ && in.size() >= 5) {
    char type = in.data()[0];
    uint32_t len = pg::read_u32(in.data() + 1);
    if (len < 4 || len > 1024 * 1024) return fail("08P01", "invalid message length in admin console");
    if (in.size() < 1 + static_cast<size_t>(len)) return;
    std::string body(in.data() + 5, len - 4);
    in.consume(1 + len);
    if (type == pg::kTerminate) return close("admin client sent Terminate");
    if (type == pg::kQuery) {
      if (!body.empty() && body.back() == '\0') body.pop_back();
      // Other workers publish on request; the answer waits for the next janitor tick to include them.
      admin_sql_ = body;
      admin_pending_ = true;
      admin_begin(worker_, *this, admin_sql_);
      worker_.defer_admin(this);
      update_interest();
      return;
    } else if (type == pg::kSync) {
      send(pg::ready_for_query('I'));
    } else if (type != pg::kFlush) {
      send(pg::error_response("ERROR", "0A000", "the admin console supports only the simple query protocol"));
    }
  }
}

void ClientConn::answer_admin() {
  if (!admin_pending_ || state_ != State::admin) return;
  admin_pending_ = false;
  send(admin_query(worker_, *this, admin_sql_));
  if (state_ == State::closed) return;
  update_interest();
  if (!stream_.in().empty()) handle_admin();
}

void ClientConn::fail(const char* sqlstate, const std::string& message) {
  if (state_ == State::closed) return;
  // Inside a message relayed from the server, the client would read an error as the rest of that message.
  if (sqlstate && *sqlstate && !(server_ && server_->inside_message())) {
    stream_.out().append(pg::error_response("FATAL", sqlstate, message));
    if (!stream_.flush()) { /* the peer is gone; nothing more to tell it */ }
  }
  close(message.c_str());
}

void ClientConn::close(const char* reason) {
  if (state_ == State::closed) return;
  // Orderly goodbyes and bare probes (a health check that connects and leaves) are not news.
  bool normal = std::strcmp(reason, "client sent Terminate") == 0 || std::strcmp(reason, "cancel request handled") == 0 ||
                std::strcmp(reason, "admin client sent Terminate") == 0 ||
                (state_ == State::startup && user_.empty() && std::strcmp(reason, "client closed the connection") == 0);
  if (normal) log_debug("closing client %s@%s: %s", user_.c_str(), database_.c_str(), reason);
  else log_info("closing client %s@%s: %s", user_.c_str(), database_.c_str(), reason);
  if (waiting_ && pool_) pool_->forget_waiting(this);
  waiting_ = false;
  state_ = State::closed;
  if (server_) release_server();
  if (counted_active_) --pool_->cl_active;
  counted_active_ = false;
  if (cancel_pid_ != 0) worker_.forget_cancel_key(cancel_pid_, cancel_key_);
  if (stream_.fd() >= 0) {
    interest_.forget(worker_.loop(), stream_.fd());
    stream_.close_fd();
  }
  worker_.client_closed(this);
}

}  // namespace rpool
