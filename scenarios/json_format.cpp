// The scenario format's vocabulary (every key at every place) and the error-message helpers built on it.
#include <algorithm>
#include <array>
#include <utility>

#include "scenarios/json.hpp"
#include "scenarios/json_detail.hpp"

namespace scenarios {
namespace detail {
namespace {

struct Entry {
  std::string_view pointer;
  Shape shape;
};

// One table, so that the parser's unknown-key checks, apply_set's path checks and the schema test cannot
// drift apart. Keep it in step with README.md and schema.json.
constexpr auto kFormat = std::to_array<Entry>({
    {"", Shape::kObject},
    {"/name", Shape::kValue},
    {"/description", Shape::kValue},
    {"/run", Shape::kObject},
    {"/run/duration", Shape::kValue},
    {"/run/warmup", Shape::kValue},
    {"/run/seed", Shape::kValue},
    {"/run/replications", Shape::kValue},
    {"/hosts", Shape::kArray},
    {"/hosts/*", Shape::kObject},
    {"/hosts/*/name", Shape::kValue},
    {"/hosts/*/address", Shape::kValue},
    {"/hosts/*/cores", Shape::kValue},
    {"/hosts/*/threads_per_core", Shape::kValue},
    {"/hosts/*/smt_pair_throughput", Shape::kValue},
    {"/hosts/*/timeslice", Shape::kValue},
    {"/hosts/*/scheduler", Shape::kValue},
    {"/hosts/*/idle_wakeup", Shape::kValue},
    {"/hosts/*/wakeup_latency", Shape::kValue},
    {"/hosts/*/ipi_wakeup", Shape::kValue},
    {"/hosts/*/cross_cpu_message", Shape::kValue},
    {"/network", Shape::kObject},
    {"/network/latency", Shape::kValue},
    {"/network/loopback_latency", Shape::kValue},
    {"/network/softirq_per_packet", Shape::kValue},
    {"/network/syn_retry", Shape::kValue},
    {"/network/syn_retries", Shape::kValue},
    {"/kernel", Shape::kObject},
    {"/kernel/hash", Shape::kValue},
    {"/kernel/steering", Shape::kValue},
    {"/kernel/tcp_migrate_req", Shape::kValue},
    {"/kernel/wildcard_listener", Shape::kValue},
    {"/kernel/listen_backlog", Shape::kValue},
    {"/kernel/hash_secret", Shape::kValue},
    {"/kernel/port_range", Shape::kValue},
    {"/kernel/tw_reuse", Shape::kValue},
    {"/pooler", Shape::kObject},
    {"/pooler/host", Shape::kValue},
    {"/pooler/processes", Shape::kValue},
    {"/pooler/pinning", Shape::kValue},
    {"/pooler/listen_addr", Shape::kValue},
    {"/pooler/listen_port", Shape::kValue},
    {"/pooler/pods", Shape::kValue},
    {"/pooler/service_balancing", Shape::kValue},
    {"/pooler/pool_mode", Shape::kValue},
    {"/pooler/pool_size", Shape::kValue},
    {"/pooler/default_pool_size", Shape::kValue},
    {"/pooler/min_pool_size", Shape::kValue},
    {"/pooler/reserve_pool_size", Shape::kValue},
    {"/pooler/reserve_pool_timeout", Shape::kValue},
    {"/pooler/max_client_conn", Shape::kValue},
    {"/pooler/max_db_connections", Shape::kValue},
    {"/pooler/query_wait_timeout", Shape::kValue},
    {"/pooler/server_login_retry", Shape::kValue},
    {"/pooler/login_round_trips", Shape::kValue},
    {"/pooler/server_round_robin", Shape::kValue},
    {"/pooler/cpu", Shape::kObject},
    {"/pooler/cpu/query", Shape::kDistribution},
    {"/pooler/cpu/result", Shape::kDistribution},
    {"/pooler/cpu/login", Shape::kDistribution},
    {"/pooler/cpu/server_login", Shape::kDistribution},
    {"/pooler/cpu/wakeup", Shape::kValue},
    {"/postgres", Shape::kObject},
    {"/postgres/host", Shape::kValue},
    {"/postgres/max_connections", Shape::kValue},
    {"/postgres/backend_startup", Shape::kDistribution},
    {"/postgres/reset_query", Shape::kDistribution},
    {"/postgres/cold_cpu", Shape::kValue},
    {"/clients", Shape::kArray},
    {"/clients/*", Shape::kObject},
    {"/clients/*/name", Shape::kValue},
    {"/clients/*/count", Shape::kValue},
    {"/clients/*/hosts", Shape::kValue},
    {"/clients/*/host", Shape::kValue},
    {"/clients/*/database", Shape::kValue},
    {"/clients/*/user", Shape::kValue},
    {"/clients/*/mode", Shape::kValue},
    {"/clients/*/rate", Shape::kValue},
    {"/clients/*/think_time", Shape::kDistribution},
    {"/clients/*/connection", Shape::kValue},
    {"/clients/*/lifetime", Shape::kDistribution},
    {"/clients/*/reconnect_delay", Shape::kDistribution},
    {"/clients/*/queries_per_transaction", Shape::kValue},
    {"/clients/*/server_cpu", Shape::kDistribution},
    {"/clients/*/server_wait", Shape::kDistribution},
    {"/clients/*/client_cpu", Shape::kDistribution},
    {"/clients/*/send_cpu", Shape::kDistribution},
    {"/clients/*/client_threads", Shape::kValue},
    {"/clients/*/connect_cpu", Shape::kDistribution},
    {"/clients/*/wakeup", Shape::kValue},
    {"/clients/*/blocking_connect", Shape::kValue},
    {"/clients/*/start", Shape::kValue},
    {"/clients/*/weight", Shape::kValue},
    {"/restarts", Shape::kArray},
    {"/restarts/*", Shape::kObject},
    {"/restarts/*/at", Shape::kValue},
    {"/restarts/*/process", Shape::kValue},
    {"/restarts/*/mode", Shape::kValue},
    {"/restarts/*/downtime", Shape::kValue},
    {"/restarts/*/drain_timeout", Shape::kValue},
    {"/rolling_restart", Shape::kObject},
    {"/rolling_restart/start", Shape::kValue},
    {"/rolling_restart/interval", Shape::kValue},
    {"/rolling_restart/mode", Shape::kValue},
    {"/rolling_restart/downtime", Shape::kValue},
    {"/rolling_restart/drain_timeout", Shape::kValue},
    {"/assignment", Shape::kValue},
    {"/timeseries_interval", Shape::kValue},
});

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so "clinet" is one edit from
// "client".
std::size_t edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

}  // namespace

std::optional<Shape> shape_of(std::string_view generic_pointer) {
  for (const auto& e : kFormat) {
    if (e.pointer == generic_pointer) return e.shape;
  }
  return std::nullopt;
}

const std::vector<std::string>& distribution_keys() {
  static const std::vector<std::string> keys = {"kind", "value", "mean",   "low",    "high",
                                                "cv",   "p99",   "values", "weights"};
  return keys;
}

void fail(const std::string& where, const std::string& message) {
  throw ScenarioError(where.empty() ? "/" : where, message);
}

std::string child_pointer(const std::string& where, const std::string& key) {
  std::string escaped;
  for (char c : key) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return (where == "/" ? std::string() : where) + "/" + escaped;
}

std::string child_pointer(const std::string& where, std::size_t index) {
  return child_pointer(where, std::to_string(index));
}

// Messages quote user text, which may hold bytes that are not UTF-8: replace them (U+FFFD) rather than throw.
std::string show(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr std::size_t kMax = 60;
  if (text.size() > kMax) text = text.substr(0, kMax - 3) + "...";
  return text;
}

std::string in_quotes(std::string_view text) {
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    // Lead byte: how many continuation bytes follow, and the smallest code point that length may encode.
    std::size_t extra;
    std::uint32_t cp, min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    i += extra + 1;
  }
  return true;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? (items.size() > 2 ? ", or " : " or ") : ", ";
    out += in_quotes(items[i]);
  }
  return out;
}

std::optional<std::string> closest(const std::string& word, const std::vector<std::string>& candidates) {
  // An abbreviation ("steer" for "steering") is a near miss however many letters it drops.
  if (word.size() >= 3) {
    for (const auto& c : candidates) {
      if (c.size() > word.size() && c.compare(0, word.size(), word) == 0) return c;
    }
  }
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (const auto& c : candidates) {
    const std::size_t dist = edit_distance(word, c);
    if (!best || dist < best_distance) {
      best = c;
      best_distance = dist;
    }
  }
  // A third of the longer word, but at least 2 edits: catches "pool_sise" and "clinet" without offering
  // "host" for "seed".
  const std::size_t limit = best ? std::max<std::size_t>(2, std::max(word.size(), best->size()) / 3) : 0;
  if (best && best_distance <= limit && best_distance < std::max(word.size(), best->size())) return best;
  return std::nullopt;
}

std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
  const auto near = closest(word, candidates);
  return near ? " (did you mean " + in_quotes(*near) + "?)" : "";
}

void check_keys(const json& object, const std::string& where, const std::vector<std::string>& allowed) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string hint = suggestion(key, allowed);
    if (hint.empty() && allowed.size() <= 8) hint = " (expected " + quoted_list(allowed) + ")";
    fail(child_pointer(where, key), "unknown key" + hint);
  }
}

void expect_object(const json& value, const std::string& where) {
  if (!value.is_object()) fail(where, "expected an object, got " + show(value));
}

}  // namespace detail

std::vector<std::string> known_keys(const std::string& generic_pointer) {
  std::vector<std::string> keys;
  const std::string prefix = generic_pointer + "/";
  for (const auto& e : detail::kFormat) {
    if (e.pointer.size() <= prefix.size() || e.pointer.substr(0, prefix.size()) != prefix) continue;
    const std::string_view rest = e.pointer.substr(prefix.size());
    if (rest.find('/') == std::string_view::npos && rest != "*") keys.emplace_back(rest);
  }
  return keys;
}

}  // namespace scenarios
