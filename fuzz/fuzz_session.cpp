// libFuzzer target: rpool's relay after login, from both ends. A real Worker (trust auth) accepts a client over
// a unix socket and opens its server connections to a fake Postgres that lives in this process (a loopback TCP
// listener). The harness logs the client in with a valid startup packet and answers every server login
// correctly (AuthenticationOk, ParameterStatus, BackendKeyData, ReadyForQuery 'I'); everything after that is
// the input's: the client's messages (Query, Parse/Bind/Describe/Execute/Sync/Flush/Close, CopyData/CopyDone/
// CopyFail, Terminate, bad lengths) and the server's (RowDescription, DataRow, CommandComplete, ReadyForQuery with
// any status, ErrorResponse, NoticeResponse, ParameterStatus, CopyIn/CopyOutResponse, NotificationResponse,
// garbage), written in pieces that alternate between the two sockets, each piece handled before the next.
//
// Input layout:
//   byte 0      options
//     bits 0-1  pool_mode: 0 session, 1 transaction, 2 statement, 3 session with server_reset_query empty
//     bits 2-4  piece size: everything at once, or 1, 2, 3, 5, 8, 13, 64 bytes
//     bit 5     the startup packet sets application_name, which differs from the server's: rpool sends its own
//               SET before the client's first message on every server and must swallow the SET's results
//     bit 6     the client hangs up as soon as its bytes are written; the rest of the server's bytes arrive
//               after that (server_reset_query, idle servers); otherwise all server bytes come first
//   bytes 1-2   n, big-endian: the length of the client part
//   n bytes     what the client sends after its startup packet
//   the rest    what Postgres sends after its login reply, to the server linked to the client (else to the
//               newest open one)
//
// Checked for every input, besides crashes, sanitizer reports and leaks:
//   - the worker's links are consistent after every step: a client's server has that client and is active,
//     a server's client is a live client that has it; each pool's counts match the servers that exist;
//   - once the client has hung up: no client is left, no server is checked out (active), every idle server is
//     clean (ReadyForQuery 'I', nothing owed), the pool has no client counted or waiting;
//   - once the fake Postgres has closed every connection: no server is left, the pool counts none;
//   - what each server connection received is rpool's startup packet, then the client's bytes in order (one
//     server after the other), with only rpool's own messages (its SET, server_reset_query, Terminate) between
//     whole client messages: nothing invented, lost in the middle, duplicated or reordered;
//   - what the client received is well framed: every message length is at least 4, up to a truncated tail;
//   - every loop is bounded; a worker that keeps busy or never settles aborts the input (a hang).
// No state survives an input: each worker's pool was created by a canned session at start-up (so every input
// finds the pool's parameters known and no server open) and every input ends with no client and no server.
// Not covered here: several clients sharing servers, the janitor's timeouts (no tick runs), server logins
// that fail or ask for a password (the fake always answers AuthenticationOk), and Postgres' own semantics
// (the fake does not know which replies a query owes: e.g. copy-in mode swallowing Syncs).
// FUZZ_SESSION_LOG=1 lets rpool's log lines through (to stderr).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <set>
#include <tuple>
#include <vector>

#include "pooler/client_conn.hpp"
#include "pooler/config.hpp"
#include "pooler/event_loop.hpp"
#include "pooler/listener.hpp"
#include "pooler/log.hpp"
#include "pooler/pool.hpp"
#include "pooler/protocol.hpp"
#include "pooler/server_conn.hpp"
#include "pooler/shared_stats.hpp"
#include "pooler/worker.hpp"

namespace {

using rpool::ClientConn;
using rpool::ServerConn;

constexpr std::size_t kPieceSizes[8] = {0, 1, 2, 3, 5, 8, 13, 64};  // 0: everything in one write
constexpr int kSettleRounds = 100000;     // steps without a quiet moment: the worker is spinning
constexpr int64_t kSettleLimitUs = 5000000;  // waiting this long for a connection to arrive: a hang

[[noreturn]] void fail(const char* what, long detail = 0) {
  std::fprintf(stderr, "fuzz_session: %s (%ld)\n", what, detail);
  std::abort();
}

std::string u32be(uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  return std::string(b, 4);
}

std::string message(char type, std::string_view body) {
  return std::string(1, type) + u32be(static_cast<uint32_t>(body.size() + 4)) + std::string(body);
}

std::string param(const char* name, const char* value) {
  return message('S', std::string(name) + '\0' + value + '\0');
}

// What the fake Postgres answers to every startup packet.
const std::string& login_reply() {
  static const std::string reply = message('R', u32be(0)) + param("server_version", "15.0") +
                                   param("client_encoding", "UTF8") + param("DateStyle", "ISO, MDY") +
                                   param("TimeZone", "UTC") + param("integer_datetimes", "on") +
                                   param("standard_conforming_strings", "on") + param("application_name", "") +
                                   message('K', u32be(4242) + u32be(0x5eed)) + message('Z', "I");
  return reply;
}

const char* kResetQuery = "DISCARD ALL";

struct Harness {
  rpool::SharedBlock* shared = rpool::shared_block_create(1);
  int pg_listen = -1;      // the fake Postgres
  int client_listen = -1;  // what the workers accept clients from
  std::string client_name;
  rpool::Worker* workers[4] = {};

  Harness() {
    if (!getenv("FUZZ_SESSION_LOG")) (void)rpool::log_open("/dev/null");
    signal(SIGPIPE, SIG_IGN);  // as rpool's supervisor does for its workers
    pg_listen = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (pg_listen < 0 || bind(pg_listen, reinterpret_cast<sockaddr*>(&sa), len) != 0 || listen(pg_listen, 64) != 0 ||
        getsockname(pg_listen, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
      fail("cannot open the fake Postgres' loopback listener", errno);
    const int port = ntohs(sa.sin_port);
    client_name = "rpool-fuzz-session-" + std::to_string(getpid());
    client_listen = rpool::open_abstract_listener(client_name, false);
    if (client_listen < 0) fail("cannot open the clients' unix listener", errno);
    const char* modes[4][2] = {{"session", kResetQuery}, {"transaction", kResetQuery}, {"statement", kResetQuery},
                               {"session", ""}};
    for (int i = 0; i < 4; ++i) {
      std::string ini = "[rpool]\nworkers = 1\nauth_type = trust\nignore_startup_parameters = extra_float_digits\n";
      ini += std::string("pool_mode = ") + modes[i][0] + "\nserver_reset_query = " + modes[i][1] + "\n";
      ini += "[databases]\napp = host=127.0.0.1 port=" + std::to_string(port) + " dbname=app\n";
      workers[i] = new rpool::Worker(rpool::parse_config_text(ini, "fuzz_session.ini"), 0, 0, shared, -1);
    }
  }
};

Harness* g_harness = nullptr;  // set once by setup(); never destroyed (the workers' epoll fds live on)
Harness& harness() { return *g_harness; }

// One connection of the fake Postgres.
struct Fake {
  int fd = -1;
  uint16_t peer_port = 0;  // rpool's end: finds the ServerConn
  std::string got;         // every byte rpool sent it
  size_t startup_len = 0;  // 0 until the startup packet arrived and was answered
  bool eof = false;        // rpool closed it
  size_t parsed = 0;       // how far whole messages after the startup packet have been read
  char last_type = 0;      // the type of the last whole message (0: none yet)
};

// One input's run through one worker.
class Session {
 public:
  Session(rpool::Worker& w, bool reset_query) : w_(w), reset_query_(reset_query) {}

  void run(uint8_t options, std::string_view client_part, std::string_view server_part);

 private:
  void connect_client(bool app_name);
  void settle();
  int poll_all(int timeout_ms);
  void serve();
  bool pending_connection();
  void check_links();
  void check_idle_servers();
  void check_after_client_left();
  void answer_resets();
  void close_fakes();
  void check_relayed();
  bool relayed_from(size_t k, size_t i, size_t pc, const std::vector<bool>& boundary, long* bad);
  void check_client_framing();
  Fake* fake_of(const ServerConn* s);
  Fake* target();
  void hang_up();

  rpool::Worker& w_;
  bool reset_query_;
  int client_ = -1;
  bool client_eof_ = false;
  bool hung_up_ = false;
  bool rpool_closed_first_ = false;  // rpool closed the client before it hung up
  std::string_view server_part_;     // what the fuzzed Postgres sends
  std::string client_sent_;  // after the startup packet
  std::string client_got_;
  std::vector<Fake> fakes_;
  std::vector<pollfd> pollfds_;
  std::set<std::tuple<size_t, size_t, size_t>> relay_dead_ends_;  // check_relayed's failed (server, at, client at)
};

void Session::connect_client(bool app_name) {
  Harness& h = harness();
  client_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path + 1, h.client_name.data(), h.client_name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + h.client_name.size());
  if (client_ < 0 || connect(client_, reinterpret_cast<sockaddr*>(&sa), len) != 0) fail("client connect", errno);
  w_.on_accept(h.client_listen, true);
  if (w_.client_count() != 1) fail("the worker did not accept the client", w_.client_count());
  std::string body = u32be(rpool::pg::kProtocolV3);
  for (const char* kv : {"user", "fuzz", "database", "app", "extra_float_digits", "3"}) body += std::string(kv) + '\0';
  if (app_name) body += std::string("application_name") + '\0' + "fuzz" + '\0';
  body += '\0';
  const std::string startup = u32be(static_cast<uint32_t>(body.size() + 4)) + body;
  if (send(client_, startup.data(), startup.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(startup.size()))
    fail("client startup write", errno);
  settle();
  if (w_.client_count() != 1 || (*w_.clients().begin())->state() != ClientConn::State::ready ||
      client_got_.size() < 6 || client_got_.compare(client_got_.size() - 6, 6, message('Z', "I")) != 0)
    fail("the client's login did not end with ReadyForQuery", static_cast<long>(client_got_.size()));
}

// One poll() over the worker's epoll fd and the harness's sockets: how many have something (an accept4() or
// recv() that finds nothing costs more; accept4 even allocates a socket before it looks at the queue).
int Session::poll_all(int timeout_ms) {
  std::vector<pollfd>& fds = pollfds_;
  fds.clear();
  fds.push_back({w_.loop().fd(), POLLIN, 0});
  fds.push_back({harness().pg_listen, POLLIN, 0});
  fds.push_back({client_eof_ ? -1 : client_, POLLIN, 0});
  for (const Fake& f : fakes_) fds.push_back({f.fd >= 0 && !f.eof ? f.fd : -1, POLLIN, 0});
  int n = poll(fds.data(), fds.size(), timeout_ms);
  return n < 0 ? 0 : n;
}

// Serves what the last poll_all() found on the harness's side: accepts the fake Postgres' connections, reads
// what rpool sent them and answers each startup packet with a login; drains the client.
void Session::serve() {
  Harness& h = harness();
  const std::vector<pollfd>& fds = pollfds_;
  static char buf[65536];
  auto take = [](int fd, std::string& into, bool& eof) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) into.append(buf, static_cast<size_t>(n));
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof = true;
  };
  for (size_t i = 0; i + 3 < fds.size(); ++i) {
    Fake& f = fakes_[i];
    if (!fds[3 + i].revents || f.fd < 0 || f.eof) continue;
    take(f.fd, f.got, f.eof);
    if (f.eof || f.startup_len != 0 || f.got.size() < 8) continue;
    uint32_t n = rpool::pg::read_u32(f.got.data());
    if (n < 8 || n > rpool::pg::kMaxStartupLength) fail("rpool sent a startup packet with a bad length", n);
    if (f.got.size() < n) continue;
    rpool::pg::StartupParams params;
    if (rpool::pg::read_u32(f.got.data() + 4) != rpool::pg::kProtocolV3 ||
        !rpool::pg::parse_startup_params(f.got.data() + 8, n - 8, params) || params.get("user") != "fuzz" ||
        params.get("database") != "app")
      fail("rpool's startup packet is not protocol 3.0 for user fuzz, database app");
    f.startup_len = n;
    const std::string& reply = login_reply();
    if (send(f.fd, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size()))
      fail("fake Postgres login reply write", errno);
  }
  if (fds[2].revents && !client_eof_) {
    take(client_, client_got_, client_eof_);
    if (client_eof_ && !hung_up_) rpool_closed_first_ = true;
  }
  if (fds[1].revents) {
    for (;;) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int fd = accept4(h.pg_listen, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      Fake f;
      f.fd = fd;
      f.peer_port = ntohs(peer.sin_port);
      fakes_.push_back(f);
    }
  }
}

// A server connection is on its way to the fake Postgres (the kernel, not the worker, has the next move).
bool Session::pending_connection() {
  for (const ServerConn* s : w_.servers())
    if (s->state() == ServerConn::State::connecting || s->state() == ServerConn::State::login) return true;
  return false;
}

// Steps the worker and serves both peers until nothing moves.
void Session::settle() {
  const int64_t start = rpool::EventLoop::now_us();
  for (int round = 0;; ++round) {
    if (round >= kSettleRounds) fail("the worker keeps busy without a new byte from either peer", round);
    if (poll_all(0) == 0) {
      if (!pending_connection()) return check_idle_servers();
      // The kernel, not the worker, has the next move.
      if (rpool::EventLoop::now_us() - start > kSettleLimitUs) fail("a server connection never finished its login");
      if (poll_all(1) == 0) continue;
    }
    if (pollfds_[0].revents) (void)w_.step(0);
    serve();
    check_links();
  }
}

uint16_t local_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (fd < 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return 0;
  return ntohs(sa.sin_port);
}

Fake* Session::fake_of(const ServerConn* s) {
  uint16_t port = local_port(s->fd());
  for (Fake& f : fakes_)
    if (f.fd >= 0 && f.peer_port == port) return &f;
  return nullptr;
}

// The server connection the fuzzed Postgres bytes go to: the client's, else the newest that is logged in.
Fake* Session::target() {
  for (const ClientConn* c : w_.clients())
    if (c->server())
      if (Fake* f = fake_of(c->server()); f && !f->eof && f->startup_len > 0) return f;
  for (size_t i = fakes_.size(); i-- > 0;)
    if (fakes_[i].fd >= 0 && !fakes_[i].eof && fakes_[i].startup_len > 0) return &fakes_[i];
  return nullptr;
}

void Session::check_links() {
  for (const ClientConn* c : w_.clients()) {
    const ServerConn* s = c->server();
    if (!s) continue;
    if (!w_.servers().count(const_cast<ServerConn*>(s)) || s->client() != c || s->state() != ServerConn::State::active)
      fail("a client's server is not an active server linked to it");
  }
  for (const auto& p : w_.pools()) {
    int total = 0, active = 0;
    for (const ServerConn* s : w_.servers()) {
      if (&const_cast<ServerConn*>(s)->pool() != p.get()) continue;
      ++total;
      if (s->state() == ServerConn::State::active) ++active;
      const ClientConn* c = s->client();
      if (c && (!w_.clients().count(const_cast<ClientConn*>(c)) || c->server() != s))
        fail("a server's client does not have it");
      if (s->state() == ServerConn::State::active && !c) fail("an active server has no client");
    }
    if (p->sv_total() != total || p->sv_active() != active) fail("the pool's server counts are wrong", total);
  }
}

// A server goes back to the pool only between the client's turns: what it received ends with a whole Query,
// Sync or FunctionCall (or rpool's own query), or CopyDone/CopyFail after a simple-query COPY, never inside a
// message or after a Parse/Bind/Execute that waits for its Sync (the next client would inherit that sequence).
void Session::check_idle_servers() {
  for (const ServerConn* s : w_.servers()) {
    if (s->state() != ServerConn::State::idle) continue;
    Fake* f = fake_of(s);
    if (!f || f->startup_len == 0) continue;
    if (f->parsed < f->startup_len) f->parsed = f->startup_len;
    const std::string& d = f->got;
    while (d.size() - f->parsed >= 5) {
      uint32_t len = rpool::pg::read_u32(d.data() + f->parsed + 1);
      if (len < 4 || d.size() - f->parsed - 1 < len) break;
      f->last_type = d[f->parsed];
      f->parsed += 1 + len;
    }
    const char t = f->last_type;
    if (f->parsed != d.size() || !(t == 0 || t == 'Q' || t == 'S' || t == 'F' || t == 'c' || t == 'f'))
      fail("a server went back to the pool in the middle of its client's turn", t);
  }
}

void Session::hang_up() {
  if (hung_up_) return;
  hung_up_ = true;
  shutdown(client_, SHUT_WR);
  settle();
  check_after_client_left();
}

void Session::check_after_client_left() {
  if (w_.client_count() != 0) fail("the client is still open after it hung up", w_.client_count());
  for (const auto& p : w_.pools())
    if (p->cl_active != 0 || p->cl_waiting() != 0 || p->sv_active() != 0)
      fail("the pool still counts a client or an active server after the client left");
  for (const ServerConn* s : w_.servers()) {
    if (s->client() || s->state() == ServerConn::State::active) fail("a server is checked out with no client");
    if (s->state() == ServerConn::State::idle && (s->tx_status() != 'I' || s->busy()))
      fail("an idle server in the pool is inside a transaction or owes results", s->tx_status());
  }
}

// The fake Postgres completes every server_reset_query, as Postgres would.
void Session::answer_resets() {
  const std::string done = message('C', std::string(kResetQuery) + '\0') + message('Z', "I");
  for (const ServerConn* s : w_.servers())
    if (s->state() == ServerConn::State::resetting)
      if (Fake* f = fake_of(s)) (void)send(f->fd, done.data(), done.size(), MSG_NOSIGNAL);
  settle();
}

void Session::close_fakes() {
  for (int round = 0; round < 8; ++round) {
    bool closed_any = false;
    for (Fake& f : fakes_)
      if (f.fd >= 0) {
        close(f.fd);
        f.fd = -1;
        closed_any = true;
      }
    settle();
    if (!closed_any && w_.server_count() == 0) break;
  }
  if (w_.server_count() != 0) fail("server connections are left after Postgres closed them", w_.server_count());
  for (const auto& p : w_.pools())
    if (p->sv_total() != 0) fail("the pool counts servers after all were freed", p->sv_total());
}

// rpool's own messages to a server: the parameter SET before a client's first message, server_reset_query, and
// Terminate. Returns the length of the one at d[i], or 0.
size_t own_message(const std::string& d, size_t i, bool reset_query) {
  if (d.size() - i < 5) return 0;
  uint32_t len = rpool::pg::read_u32(d.data() + i + 1);
  if (len < 4 || d.size() - i - 1 < len) return 0;
  std::string_view body(d.data() + i + 5, len - 4);
  if (d[i] == 'X' && len == 4) return 5;
  if (d[i] != 'Q') return 0;
  if (body.substr(0, 4) == "SET " && body.size() >= 2 && body.substr(body.size() - 2) == std::string_view(";\0", 2))
    return 1 + len;
  if (reset_query && body == std::string_view("DISCARD ALL\0", 12)) return 1 + len;
  return 0;
}

void Session::check_relayed() {
  // Where the client's messages start (a length rpool refuses ends them: nothing after it is relayed).
  const std::string& c = client_sent_;
  std::vector<bool> boundary(c.size() + 1, false);
  for (size_t at = 0;;) {
    boundary[at] = true;
    if (c.size() - at < 5) break;
    uint32_t len = rpool::pg::read_u32(c.data() + at + 1);
    if (len < 4 || len > rpool::pg::kMaxMessageLength || c.size() - at - 1 < len) break;
    at += 1 + len;
  }
  for (const Fake& f : fakes_) {
    if (f.startup_len == 0 && !f.got.empty() && f.got.size() >= 4 && rpool::pg::read_u32(f.got.data()) <= f.got.size())
      fail("a server connection's startup packet was never answered");
  }
  relay_dead_ends_.clear();
  long bad = 0;
  if (!relayed_from(0, SIZE_MAX, 0, boundary, &bad))
    fail("a server received bytes the client did not send at that point", bad);
}

// Whether the servers' bytes from server k, offset i (SIZE_MAX: after its startup packet), are the client's from
// pc on, with rpool's own messages in between. rpool's own SET can be byte for byte the client's next message (a
// client that sets application_name itself, and rpool setting it on a server before relaying that very query):
// both readings are tried, rpool's first; failed states are remembered, so runs of such messages stay cheap.
bool Session::relayed_from(size_t k, size_t i, size_t pc, const std::vector<bool>& boundary, long* bad) {
  const std::string& c = client_sent_;
  for (; k < fakes_.size(); ++k, i = SIZE_MAX) {
    const Fake& f = fakes_[k];
    if (f.startup_len == 0) continue;
    if (i == SIZE_MAX) i = f.startup_len;
    const std::string& d = f.got;
    while (i < d.size()) {
      if (boundary[pc]) {
        size_t own = own_message(d, i, reset_query_);
        if (own > 0 && c.compare(pc, own, d, i, own) != 0) {
          i += own;
          continue;
        }
        if (own > 0 && !relay_dead_ends_.count({k, i + own, pc})) {
          if (relayed_from(k, i + own, pc, boundary, bad)) return true;
          relay_dead_ends_.insert({k, i + own, pc});
        }
      }
      if (pc >= c.size() || c[pc] != d[i]) {
        *bad = static_cast<long>(pc);
        return false;
      }
      ++pc;
      ++i;
    }
  }
  return true;
}

// Well framed: every length at least 4 (a truncated tail is what a client sees when the connection ends inside a
// message). When rpool closes the client with a FATAL error, that error starts where a message starts: glued to a
// partially relayed message, the client would read it as the rest of that message (e.g. as row data).
void Session::check_client_framing() {
  const std::string& g = client_got_;
  size_t fatal_at = g.size();  // where a final ErrorResponse with severity FATAL starts, if the stream ends with one
  // Only rpool's own error counts: when the fuzzed Postgres wrote those bytes too, they may sit inside a message.
  const bool server_wrote_fatal = server_part_.find(std::string_view("SFATAL\0", 7)) != std::string_view::npos;
  if (rpool_closed_first_ && !server_wrote_fatal && g.size() >= 12) {
    for (size_t j = g.size() - 11; j-- > 0;) {  // the smallest one: 'E', its length, "SFATAL\0"
      if (g[j] == 'E' && rpool::pg::read_u32(g.data() + j + 1) == g.size() - j - 1 &&
          g.compare(j + 5, 7, std::string("SFATAL\0", 7)) == 0) {
        fatal_at = j;
        break;
      }
    }
  }
  size_t at = 0;
  while (g.size() - at >= 5) {
    if (at >= fatal_at) break;
    uint32_t len = rpool::pg::read_u32(g.data() + at + 1);
    if (len < 4) fail("the client received a message with a length below 4", static_cast<long>(at));
    if (g.size() - at - 1 < len) break;
    at += 1 + len;
  }
  if (fatal_at < g.size() && at != fatal_at)
    fail("rpool's FATAL error reached the client inside a relayed message", static_cast<long>(fatal_at));
}

void Session::run(uint8_t options, std::string_view client_part, std::string_view server_part) {
  const std::size_t piece = kPieceSizes[(options >> 2) & 7];
  const bool hang_up_early = options & 0x40;
  server_part_ = server_part;
  connect_client(options & 0x20);
  size_t ci = 0, si = 0;
  for (;;) {
    bool wrote = false;
    if (ci < client_part.size() && !hung_up_ && !client_eof_) {
      size_t n = piece == 0 ? client_part.size() - ci : std::min(piece, client_part.size() - ci);
      ssize_t k = send(client_, client_part.data() + ci, n, MSG_NOSIGNAL);
      if (k > 0) {
        client_sent_.append(client_part.data() + ci, static_cast<size_t>(k));
        ci += static_cast<size_t>(k);
        wrote = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        client_eof_ = true;  // rpool closed it
      }
      settle();
    }
    if (hang_up_early && (ci >= client_part.size() || client_eof_)) hang_up();
    if (si < server_part.size()) {
      if (Fake* f = target()) {
        size_t n = piece == 0 ? server_part.size() - si : std::min(piece, server_part.size() - si);
        ssize_t k = send(f->fd, server_part.data() + si, n, MSG_NOSIGNAL);
        if (k > 0) {
          si += static_cast<size_t>(k);
          wrote = true;
        }
        settle();
      }
    }
    if (!wrote) break;
  }
  hang_up();
  answer_resets();
  close_fakes();
  close(client_);
  check_relayed();
  check_client_framing();
}

Harness& setup() {
  static Harness* h = [] {
    auto* made = g_harness = new Harness;
    // A canned session per worker creates its pool (with the server's parameters), so every input starts
    // from the same state: pool known, no client, no server.
    const std::string query = message('Q', std::string("select 1") + '\0');
    // RowDescription: one int4 column "?column?"; DataRow: "1".
    const std::string columns("\0\1?column?\0\0\0\0\0\0\0\0\0\0\027\0\4\xff\xff\xff\xff\0\0", 29);
    const std::string result = message('T', columns) + message('D', std::string("\0\1\0\0\0\0011", 7)) +
                               message('C', std::string("SELECT 1\0", 9)) + message('Z', "I");
    for (int i = 0; i < 4; ++i) {
      Session s(*made->workers[i], i != 3);
      s.run(static_cast<uint8_t>(i), query, result);  // must not trip the harness's own checks
    }
    return made;
  }();
  return *h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  Harness& h = setup();
  const uint8_t options = data[0];
  const std::size_t n = std::min<std::size_t>((std::size_t{data[1]} << 8) | data[2], size - 3);
  const std::string_view client_part(reinterpret_cast<const char*>(data) + 3, n);
  const std::string_view server_part(reinterpret_cast<const char*>(data) + 3 + n, size - 3 - n);
  Session s(*h.workers[options & 3], (options & 3) != 3);
  s.run(options, client_part, server_part);
  return 0;
}
