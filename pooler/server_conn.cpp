// Server side: connect and log in to Postgres, relay results to the linked client, release at ReadyForQuery.
#include "pooler/server_conn.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "pooler/client_conn.hpp"
#include "pooler/listener.hpp"
#include "pooler/log.hpp"
#include "pooler/pool.hpp"
#include "pooler/protocol.hpp"
#include "pooler/worker.hpp"

namespace rpool {

namespace {
constexpr size_t kBackpressureBytes = 512 * 1024;
}

ServerConn::ServerConn(Worker& worker, Pool& pool)
    : worker_(worker), pool_(pool), stream_(-1), created_us_(EventLoop::now_us()), generation_(pool.generation()),
      connect_time_unix_(static_cast<int64_t>(time(nullptr))) {
  pool_.count_state(static_cast<int>(state_), +1);
}

ServerConn::~ServerConn() = default;

const char* ServerConn::state_name() const {
  switch (state_) {
    case State::connecting: return "connecting";
    case State::login: return "login";
    case State::idle: return "idle";
    case State::active: return "active";
    case State::resetting: return "used";
    case State::closed: return "closed";
  }
  return "?";
}

void ServerConn::set_state(State next) {
  pool_.count_state(static_cast<int>(state_), -1);
  state_ = next;
  pool_.count_state(static_cast<int>(state_), +1);
}

bool ServerConn::start() {
  std::string error;
  const DatabaseEntry& e = pool_.entry();
  int fd = connect_nonblocking(e.host, e.port, &error);
  if (fd < 0) {
    login_failed("server connection failed: " + error, "08006");
    return false;
  }
  stream_.attach(fd);
  update_interest();
  return true;
}

bool ServerConn::output_backlogged() const { return stream_.out().size() > kBackpressureBytes; }

void ServerConn::update_interest() {
  if (state_ == State::closed || stream_.fd() < 0) return;
  uint32_t want = EPOLLRDHUP;
  if (state_ == State::connecting || !stream_.out().empty()) want |= EPOLLOUT;
  if (state_ != State::connecting && !(client_ && client_->output_backlogged())) want |= EPOLLIN;
  interest_.set(worker_.loop(), stream_.fd(), want, this);
}

void ServerConn::send_raw(const std::string& bytes) {
  stream_.out().append(bytes);
  flush_or_close();
}

bool ServerConn::flush_or_close() {
  if (!stream_.flush()) {
    close(errno == EPIPE || errno == ECONNRESET ? "server closed the connection" : "send() to server failed");
    return false;
  }
  update_interest();
  return true;
}

void ServerConn::on_io(uint32_t events) {
  if (state_ == State::closed) return;
  if (state_ == State::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(stream_.fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      login_failed(std::string("server connection failed: ") + strerror(err), "08006");
      return;
    }
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    set_state(State::login);
    std::vector<std::pair<std::string, std::string>> params = {{"user", pool_.server_user()},
                                                               {"database", pool_.server_dbname()}};
    send_raw(pg::startup_message(params));
    return;
  }
  if (events & EPOLLOUT) {
    if (!flush_or_close()) return;
    if (client_ && !output_backlogged()) client_->resume_reading();
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
    ReadResult r = stream_.read_some();
    if (!stream_.in().empty()) {
      switch (state_) {
        case State::login: handle_login_input(); break;
        case State::active: relay_to_client(); break;
        case State::resetting: handle_reset_input(); break;
        case State::idle: {
          // An idle server only speaks when Postgres is ending it (e.g. an administrator's terminate).
          const char* p = stream_.in().data();
          if (p[0] == pg::kErrorResponse && stream_.in().size() >= 5) {
            log_info("idle server %u sent an error: %s", backend_pid_,
                     pg::error_message_text(p + 5, stream_.in().size() - 5).c_str());
            close("server sent an error while idle");
            return;
          }
          stream_.in().clear();
          break;
        }
        default: break;
      }
    }
    if (state_ == State::closed) return;
    if (r == ReadResult::closed || r == ReadResult::error) {
      if (state_ == State::login) login_failed("server closed the connection during login", "08006");
      else close(r == ReadResult::closed ? "server closed the connection" : "recv() from server failed");
    }
  }
}

void ServerConn::handle_login_input() {
  Buffer& in = stream_.in();
  while (state_ == State::login && in.size() >= 5) {
    const char* p = in.data();
    uint32_t len = pg::read_u32(p + 1);
    if (len < 4 || len > pg::kMaxStartupLength * 10) {
      login_failed("server sent a bad message length during login", "08P01");
      return;
    }
    if (in.size() < 1 + static_cast<size_t>(len)) return;
    std::string raw(p, 1 + len);
    in.consume(1 + len);
    handle_login_message(raw[0], raw.data() + 5, len - 4);
    if (raw[0] == pg::kParameterStatus) {
      std::string name, value;
      if (parse_parameter_status(raw.data() + 5, raw.size() - 5, &name, &value)) {
        params_.set(name, value);
        login_params_.emplace_back(std::move(name), std::move(value));
      }
    }
  }
}

void ServerConn::handle_login_message(char type, const char* body, size_t n) {
  pg::MessageReader r(body, n);
  const std::string& password = pool_.server_password();
  switch (type) {
    case pg::kAuthentication: {
      uint32_t code = r.u32();
      if (code == pg::kAuthOk) return;
      if (code == pg::kAuthCleartext || code == pg::kAuthMd5 || code == pg::kAuthSasl) {
        if (password.empty()) {
          login_failed("no password known for server user " + pool_.server_user(), "28P01");
          return;
        }
      }
      if (code == pg::kAuthCleartext) {
        send_raw(pg::MessageBuilder(pg::kPasswordMessage).str(password).finish());
      } else if (code == pg::kAuthMd5) {
        if (password.rfind("SCRAM-SHA-256$", 0) == 0)
          return login_failed("the server asks for MD5 but auth_file has a SCRAM secret for " + pool_.server_user(),
                              "28P01");
        std::string_view salt = r.bytes(4);
        if (!r.ok()) return login_failed("bad MD5 request from server", "08P01");
        send_raw(pg::MessageBuilder(pg::kPasswordMessage)
                     .str(auth::md5_response(password, pool_.server_user(), salt.data()))
                     .finish());
      } else if (code == pg::kAuthSasl) {
        bool has_scram = false;
        while (r.ok() && r.remaining() > 0) {
          std::string mech = r.str();
          if (mech == "SCRAM-SHA-256") has_scram = true;
          if (mech.empty()) break;
        }
        if (!has_scram) return login_failed("server offers no SCRAM-SHA-256", "28000");
        if (password.rfind("md5", 0) == 0 && password.size() == 35)
          return login_failed("SCRAM needs the plain password of " + pool_.server_user(), "28P01");
        if (password.rfind("SCRAM-SHA-256$", 0) == 0) {
          // auth_file has the SCRAM secret only: use the keys of a client that logged in with it.
          if (pool_.scram_client_key().empty())
            return login_failed("no SCRAM keys yet for " + pool_.server_user() +
                                    " (auth_file has a SCRAM secret; clients must log in with SCRAM first)",
                                "28P01");
          scram_ = std::make_unique<auth::ScramClient>(
              auth::ScramClient::from_keys(pool_.scram_client_key(), pool_.scram_server_key()));
        } else {
          scram_ = std::make_unique<auth::ScramClient>(password);
        }
        std::string first = scram_->first();
        send_raw(pg::MessageBuilder(pg::kPasswordMessage)
                     .str("SCRAM-SHA-256")
                     .u32(static_cast<uint32_t>(first.size()))
                     .bytes(first)
                     .finish());
      } else if (code == pg::kAuthSaslContinue && scram_) {
        auto final = scram_->final(std::string(body + 4, n - 4));
        if (!final) return login_failed("bad SCRAM message from server", "08P01");
        send_raw(pg::MessageBuilder(pg::kPasswordMessage).bytes(*final).finish());
      } else if (code == pg::kAuthSaslFinal && scram_) {
        if (!scram_->verify(std::string(body + 4, n - 4)))
          return login_failed("server's SCRAM signature is wrong", "08P01");
      } else {
        login_failed("unsupported authentication request " + std::to_string(code) + " from server", "08P01");
      }
      return;
    }
    case pg::kBackendKeyData:
      backend_pid_ = r.u32();
      backend_key_ = r.u32();
      return;
    case pg::kErrorResponse: {
      std::string code = "08006";
      pg::MessageReader fr(body, n);
      std::string msg;
      while (fr.ok() && fr.remaining() > 0) {
        uint8_t f = fr.u8();
        if (f == 0) break;
        std::string v = fr.str();
        if (f == 'C') code = v;
        if (f == 'M') msg = v;
      }
      login_failed(msg, code.c_str());
      return;
    }
    case pg::kReadyForQuery:
      login_done();
      return;
    default:
      return;  // ParameterStatus is collected by the caller; notices are dropped
  }
}

void ServerConn::login_done() {
  log_debug("server %u logged in to %s as %s", backend_pid_, pool_.server_dbname().c_str(),
            pool_.server_user().c_str());
  if (!pool_.params_known()) pool_.set_params(login_params_);
  login_params_.clear();
  scram_.reset();
  set_state(State::idle);
  idle_since_us_ = EventLoop::now_us();
  pool_.server_available(this);
}

void ServerConn::login_failed(const std::string& message, const char* sqlstate) {
  log_warn("server login to %s:%d db=%s user=%s failed: %s", pool_.entry().host.c_str(), pool_.entry().port,
           pool_.server_dbname().c_str(), pool_.server_user().c_str(), message.c_str());
  Pool& pool = pool_;
  close("login failed");
  pool.login_failed(message, sqlstate);
}

void ServerConn::link(ClientConn* client) {
  RPOOL_ASSERT(state_ == State::idle && client_ == nullptr, "linking a server that is not idle");
  client_ = client;
  params_synced_ = false;
  set_state(State::active);
  linked_at_us_ = EventLoop::now_us();
  update_interest();
}

void ServerConn::park() {
  idle_since_us_ = EventLoop::now_us();
  if (state_ != State::idle) set_state(State::idle);
  update_interest();
}

void ServerConn::send_from_client(const char* data, size_t n, int expected_ready, bool ends_at_sync) {
  if (!params_synced_ && client_) {
    // Bring the server's session parameters in line with this client's, in the same write as its query.
    params_synced_ = true;
    std::string q = params_.set_query_for(client_->wanted_params());
    if (!q.empty()) {
      stream_.out().append(pg::MessageBuilder(pg::kQuery).str(q).finish());
      ++pending_ready_;
      ++drop_ready_;
    }
  }
  if (pending_ready_ == 0 && expected_ready > 0) query_started_us_ = EventLoop::now_us();
  pending_ready_ += expected_ready;
  tail_synced_ = ends_at_sync;
  stream_.out().append(data, n);
  flush_or_close();
}

void ServerConn::note_parameter(const char* body, size_t n) {
  std::string name, value;
  if (!parse_parameter_status(body, n, &name, &value)) return;
  params_.set(name, value);
  if (client_) client_->wanted_params().set(name, value);  // the client changed it with SET
}

bool ServerConn::drop_own_results() {
  Buffer& in = stream_.in();
  while (drop_ready_ > 0 && in.size() >= 5) {
    const char* p = in.data();
    uint32_t len = pg::read_u32(p + 1);
    if (len < 4 || len > pg::kMaxMessageLength) {
      close("server sent a bad message length");
      return false;
    }
    if (in.size() < 1 + static_cast<size_t>(len)) break;
    if (p[0] == pg::kParameterStatus) {
      note_parameter(p + 5, len - 4);
    } else if (p[0] == pg::kErrorResponse) {
      log_warn("setting client parameters on server %u failed: %s", backend_pid_,
               pg::error_message_text(p + 5, len - 4).c_str());
    } else if (p[0] == pg::kReadyForQuery && len == 5) {
      --drop_ready_;
      if (pending_ready_ > 0) --pending_ready_;
      tx_status_ = p[5];
    }
    in.consume(1 + len);
  }
  return drop_ready_ == 0;
}

void ServerConn::relay_to_client() {
  if (drop_ready_ > 0 && !drop_own_results()) return;
  Buffer& in = stream_.in();
  const char* p = in.data();
  size_t n = in.size();
  size_t pos = 0;
  bool release = false;
  PoolMode mode = pool_.mode();
  while (pos < n) {
    if (skip_ > 0) {
      size_t take = std::min<size_t>(skip_, n - pos);
      pos += take;
      skip_ -= static_cast<uint32_t>(take);
      continue;
    }
    if (n - pos < 5) break;
    char type = p[pos];
    uint32_t len = pg::read_u32(p + pos + 1);
    // A ReadyForQuery is always 5 long: relaying 1 + len bytes after reading 6 would run past the buffer.
    if (len < 4 || len > pg::kMaxMessageLength || (type == pg::kReadyForQuery && len != 5)) {
      // What was read before it goes first: the client may hold part of it, and its error must not be glued on.
      if (pos > 0) client_->send_from_server(p, pos);
      close("server sent a bad message length");
      return;
    }
    if (type == pg::kParameterStatus) {
      if (n - pos < 1 + static_cast<size_t>(len)) break;
      note_parameter(p + pos + 5, len - 4);
      pos += 1 + len;
      continue;
    }
    if (type == pg::kReadyForQuery) {
      if (n - pos < 6) break;
      extended_ = false;
      tx_status_ = p[pos + 5];
      if (pending_ready_ > 0 && --pending_ready_ == 0)
        pool_.counters().query_time_us += static_cast<uint64_t>(EventLoop::now_us() - query_started_us_);
      pos += 1 + len;
      if (tx_status_ == 'I') ++pool_.counters().xact_count;
      if (pending_ready_ == 0 && tail_synced_ && mode != PoolMode::session) {
        if (tx_status_ == 'I') {
          release = true;
          break;
        }
        if (mode == PoolMode::statement) {
          client_->send_from_server(p, pos);
          in.clear();
          // The client's close finds this server inside a transaction and closes it too.
          client_->fail("08P01", "transaction blocks not allowed in statement pooling mode");
          return;
        }
      }
      continue;
    }
    if (type == pg::kBindComplete) extended_ = true;
    // An extended-protocol COPY FROM STDIN: Postgres ignores the Syncs it reads in copy-in mode (libpq sends one
    // with the Execute and one after CopyDone) and answers only the Sync after the copy. Every Sync forwarded so
    // far comes after the COPY's Execute (earlier ones were answered before this message), so none is owed.
    if (type == pg::kCopyInResponse && extended_) pending_ready_ = 0;
    pos += 5;
    skip_ = len - 4;
  }
  if (pos > 0) {
    pool_.counters().bytes_sent += pos;
    client_->send_from_server(p, pos);
    in.consume(pos);
  }
  if (release) {
    in.clear();  // after an idle ReadyForQuery nothing is owed; stray notices have no reader
    skip_ = 0;
    ClientConn* c = client_;
    client_ = nullptr;
    pool_.counters().xact_time_us += static_cast<uint64_t>(EventLoop::now_us() - linked_at_us_);
    if (EventLoop::now_us() - created_us_ > static_cast<int64_t>(worker_.config().server_lifetime * 1e6) &&
        worker_.config().server_lifetime > 0) {
      c->on_server_released();
      close("server_lifetime reached");
      return;
    }
    set_state(State::idle);
    idle_since_us_ = EventLoop::now_us();
    pool_.server_available(this);
    c->on_server_released();
  } else if (client_ && client_->output_backlogged()) {
    update_interest();
  }
}

void ServerConn::client_gone() {
  ClientConn* c = client_;
  client_ = nullptr;
  (void)c;
  if (state_ != State::active) return;
  pool_.counters().xact_time_us += static_cast<uint64_t>(EventLoop::now_us() - linked_at_us_);
  if (!clean() || !stream_.out().empty()) {
    close("client went away in the middle of a transaction");
    return;
  }
  const std::string& reset = worker_.config().server_reset_query;
  if (pool_.mode() == PoolMode::session && !reset.empty()) {
    set_state(State::resetting);
    pending_ready_ = 1;
    send_raw(pg::MessageBuilder(pg::kQuery).str(reset).finish());
    return;
  }
  set_state(State::idle);
  idle_since_us_ = EventLoop::now_us();
  pool_.server_available(this);
}

void ServerConn::handle_reset_input() {
  Buffer& in = stream_.in();
  while (in.size() >= 5) {
    const char* p = in.data();
    uint32_t len = pg::read_u32(p + 1);
    if (len < 4 || len > pg::kMaxMessageLength) return close("server sent a bad message length");
    if (in.size() < 1 + static_cast<size_t>(len)) return;
    char type = p[0];
    if (type == pg::kErrorResponse)
      log_warn("server_reset_query failed: %s", pg::error_message_text(p + 5, len - 4).c_str());
    char status = type == pg::kReadyForQuery && len >= 5 ? p[5] : 0;
    if (type == pg::kParameterStatus) note_parameter(p + 5, len - 4);
    in.consume(1 + len);
    if (type == pg::kReadyForQuery) {
      pending_ready_ = 0;
      tx_status_ = status;
      if (status != 'I') return close("server not idle after server_reset_query");
      in.clear();
      set_state(State::idle);
      idle_since_us_ = EventLoop::now_us();
      pool_.server_available(this);
      return;
    }
  }
}

void ServerConn::close(const char* reason) {
  if (state_ == State::closed) return;
  log_debug("closing server %u (%s)", backend_pid_, reason);
  bool was_idle = state_ == State::idle;
  if (was_idle) pool_.server_gone(this);
  set_state(State::closed);
  if (stream_.fd() >= 0) {
    interest_.forget(worker_.loop(), stream_.fd());
    // Terminate politely when the connection is healthy, so Postgres does not log an unexpected EOF.
    if (was_idle) {
      std::string bye = pg::MessageBuilder(pg::kTerminate).finish();
      ssize_t ignored = ::send(stream_.fd(), bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)ignored;
    }
    stream_.close_fd();
  }
  ClientConn* c = client_;
  client_ = nullptr;
  if (c) c->on_server_lost(std::string("server connection closed: ") + reason);
  worker_.server_closed(this);
}

}  // namespace rpool
