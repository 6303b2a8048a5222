// libFuzzer target: what an unauthenticated client can send rpool. The bytes go through a real ClientConn of a
// real Worker over a socketpair, so the framing under test is rpool's own (startup packet length and code,
// SSLRequest / GSSENCRequest, CancelRequest, startup parameters, PasswordMessage, SASLInitialResponse and
// SASLResponse, and for a stats user on the admin console the Query framing and the SHOW commands), followed
// by the message-level parsers run directly on the same bytes (MessageReader, error_message_text,
// parse_parameter_status, parse_startup_params, the SCRAM server's parsers).
//
// Input layout: one options byte, then the client's bytes.
//   bits 0-1  the worker's auth_type: 0 md5, 1 scram-sha-256, 2 trust (only the admin console exists, and
//             only for a stats user, so no input can make the worker open a server connection), 3 md5
//   bits 2-4  how the bytes arrive: all at once, or in pieces of 1, 2, 3, 5, 8, 13 or 64 bytes, each piece
//             handled before the next is written (partial messages are where framing bugs live)
// Nothing here reaches Postgres: no [databases] entry exists in trust mode, and a password can never be right
// (the MD5 salt and the SCRAM nonce are random and no auth_file is loaded).
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "pooler/auth.hpp"
#include "pooler/client_conn.hpp"
#include "pooler/config.hpp"
#include "pooler/log.hpp"
#include "pooler/params.hpp"
#include "pooler/protocol.hpp"
#include "pooler/shared_stats.hpp"
#include "pooler/worker.hpp"

namespace {

constexpr std::size_t kPieceSizes[8] = {0, 1, 2, 3, 5, 8, 13, 64};  // 0: everything in one write

rpool::Config make_config(const char* auth_type) {
  std::string ini = "[rpool]\nworkers = 1\nauth_type = ";
  ini += auth_type;
  ini += "\nstats_users = stats\nignore_startup_parameters = extra_float_digits\n";
  if (std::strcmp(auth_type, "trust") != 0) {
    // Only reachable after a successful login, which these workers never grant.
    ini += "auth_file = /nonexistent/userlist.txt\n[databases]\n* = host=127.0.0.1 port=1\n";
  }
  return rpool::parse_config_text(ini, "fuzz_protocol.ini");
}

struct Harness {
  rpool::SharedBlock* shared = rpool::shared_block_create(1);
  rpool::Worker md5{make_config("md5"), 0, 0, shared, -1};
  rpool::Worker scram{make_config("scram-sha-256"), 0, 0, shared, -1};
  rpool::Worker trust{make_config("trust"), 0, 0, shared, -1};
  // A SCRAM secret in pg_authid's form, so the direct parser checks need no PBKDF2 per input.
  rpool::auth::ScramSecret secret = *rpool::auth::scram_secret_from(
      "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=:"
      "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY=");

  Harness() {
    if (!getenv("FUZZ_PROTOCOL_LOG")) (void)rpool::log_open("/dev/null");
  }
};

Harness& harness() {
  static Harness* h = new Harness;  // never destroyed: the workers' epoll fds live as long as the process
  return *h;
}

void drain(int fd) {
  char sink[65536];
  while (read(fd, sink, sizeof sink) > 0) {
  }
}

void pump(rpool::ClientConn& client) {
  client.on_io(EPOLLIN);
  // The janitor answers a parked admin query once the other workers have published; there are none here.
  for (int i = 0; i < 64 && client.state() == rpool::ClientConn::State::admin; ++i) client.answer_admin();
}

void through_client_conn(rpool::Worker& worker, std::string_view bytes, std::size_t piece) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  auto* client = new rpool::ClientConn(worker, sv[0], /*is_unix=*/true);
  std::size_t at = 0;
  while (at < bytes.size() && client->state() != rpool::ClientConn::State::closed) {
    std::size_t n = piece == 0 ? bytes.size() - at : std::min(piece, bytes.size() - at);
    ssize_t w = write(sv[1], bytes.data() + at, n);
    if (w > 0) at += static_cast<std::size_t>(w);
    pump(*client);
    drain(sv[1]);
  }
  // The client hangs up, as every real one eventually does.
  shutdown(sv[1], SHUT_WR);
  if (client->state() != rpool::ClientConn::State::closed) client->on_io(EPOLLIN | EPOLLRDHUP);
  if (client->state() != rpool::ClientConn::State::closed) client->close("fuzz input ended");
  drain(sv[1]);
  delete client;
  close(sv[1]);
}

void through_parsers(std::string_view bytes) {
  const char* p = bytes.data();
  const std::size_t n = bytes.size();

  rpool::pg::StartupParams params;
  if (rpool::pg::parse_startup_params(p, n, params)) (void)params.get("user");
  (void)rpool::pg::error_message_text(p, n);
  std::string name, value;
  if (rpool::parse_parameter_status(p, n, &name, &value)) {
    rpool::ParamSet set;
    (void)set.set(name, value);
    (void)rpool::ParamSet().set_query_for(set);
  }

  // A reader driven by the bytes themselves: every read past the end must turn into ok() == false.
  rpool::pg::MessageReader r(p, n);
  for (std::size_t i = 0; i < n && r.remaining() > 0; ++i) {
    switch (static_cast<unsigned char>(p[i]) % 5) {
      case 0: (void)r.u8(); break;
      case 1: (void)r.u16(); break;
      case 2: (void)r.u32(); break;
      case 3: (void)r.str(); break;
      case 4: (void)r.bytes(static_cast<unsigned char>(p[i]) / 5); break;
    }
    if (r.remaining() > n) std::abort();  // the cursor ran past the end
  }

  rpool::auth::ScramServer server(harness().secret);
  const std::string text(bytes);
  if (server.first(text)) (void)server.final(text);
  (void)rpool::auth::base64_decode(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Harness& h = harness();
  const unsigned options = data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  rpool::Worker* workers[4] = {&h.md5, &h.scram, &h.trust, &h.md5};
  through_client_conn(*workers[options & 3], bytes, kPieceSizes[(options >> 2) & 7]);
  through_parsers(bytes);
  return 0;
}
