// libFuzzer target: rpool's ini parser and auth_file parser. Any text must give a Config (or a user map) or a
// ConfigError naming the file and line, never a crash, a sanitizer report, another exception or a hang.
//
// Input layout: the ini text, then optionally a NUL byte and an auth_file text (without one, the ini text is
// also read as an auth_file, which exercises its quoting rules on arbitrary lines).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz/expect_only.hpp"
#include "pooler/config.hpp"

namespace {

constexpr const char* kPath = "fuzz.ini";

[[noreturn]] void report(const char* stage, const char* what) {
  std::fprintf(stderr, "fuzz_config: %s: %s\n", stage, what);
  std::abort();
}

// What the rest of rpool relies on once parse_config_text has returned.
void check_config(const rpool::Config& c) {
  if (c.workers < 1 || c.workers > 64) report("invariant", "workers outside [1, 64]");
  if (!c.cpu_affinity.empty() && static_cast<int>(c.cpu_affinity.size()) != c.workers)
    report("invariant", "cpu_affinity does not have one CPU per worker");
  if (c.listen_port < 1 || c.listen_port > 65535) report("invariant", "listen_port out of range");
  if (c.default_pool_size < 1) report("invariant", "default_pool_size below 1");
  if (c.max_client_conn < 1) report("invariant", "max_client_conn below 1");
  if (c.auth_type != rpool::AuthType::trust && c.auth_file.empty()) report("invariant", "auth_file missing");
  if (c.shown.size() != rpool::config_keys().size()) report("invariant", "SHOW CONFIG does not list every key");
  // The janitor and the pools turn every timeout into int64 microseconds with static_cast<int64_t>(x * 1e6):
  // a value that does not fit (inf, nan, 1e300) is undefined behaviour there, so the parser must refuse it.
  for (double seconds : {c.reserve_pool_timeout, c.server_idle_timeout, c.server_lifetime, c.server_connect_timeout,
                         c.query_wait_timeout, c.client_idle_timeout, c.idle_transaction_timeout, c.query_timeout,
                         c.client_login_timeout, c.client_write_timeout, c.stats_period, c.shutdown_timeout}) {
    if (!(seconds >= 0 && seconds * 1e6 < 9.2e18)) report("invariant", "a timeout does not fit in int64 microseconds");
  }
  for (const auto& db : c.databases) {
    if (db.port < 1 || db.port > 65535) report("invariant", "database port out of range");
    (void)c.find_database(db.name);
  }
}

void check_error(const rpool::ConfigError& e) {
  // Every message starts with the file name, so a user can find the line.
  if (std::string_view(e.what()).rfind(kPath, 0) != 0) report("ConfigError without the file name", e.what());
}

// The parser itself, on the text as given (load_auth_file adds only the file's opening, mode check and read).
void auth_file(std::string_view text) {
  fuzz::expect_only<rpool::ConfigError>(
      "parse_auth_text threw something other than ConfigError",
      [&] { (void)rpool::parse_auth_text(std::string(text), kPath); }, check_error, report);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string ini(input.substr(0, nul));
  fuzz::expect_only<rpool::ConfigError>(
      "parse_config_text threw something other than ConfigError",
      [&] { check_config(rpool::parse_config_text(ini, kPath)); }, check_error, report);
  auth_file(nul == std::string_view::npos ? input : input.substr(nul + 1));
  return 0;
}
