// Tests of the JSON scenario format: value parsers, validation messages with their paths, --set edits, files,
// examples.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "scenarios/json.hpp"

namespace {

using nlohmann::json;
using scenarios::ScenarioError;
namespace fs = std::filesystem;

// The error a document raises, or a failure naming the document when it raises none.
ScenarioError error_of(const json& doc) {
  try {
    (void)scenarios::parse_scenario(doc);
  } catch (const ScenarioError& e) {
    return e;
  }
  FAIL("no ScenarioError for " << doc.dump());
  return ScenarioError("", "");
}

template <class F>
ScenarioError error_from(F&& f) {
  try {
    f();
  } catch (const ScenarioError& e) {
    return e;
  }
  FAIL("no ScenarioError");
  return ScenarioError("", "");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A file in the temporary directory, removed when the test ends.
class TempFile {
 public:
  TempFile(const std::string& stem, const std::string& content)
      : path_(fs::temp_directory_path() / (stem + "_" + std::to_string(::getpid()) + ".json")) {
    std::ofstream(path_) << content;
  }
  ~TempFile() { fs::remove(path_); }
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

const fs::path kExamples = fs::path(RPSIM_SOURCE_DIR) / "scenarios" / "examples";

json read_example(const std::string& name) { return scenarios::load_json_file((kExamples / name).string()); }

}  // namespace

TEST_CASE("durations take units and fractions", "[json][duration]") {
  using scenarios::parse_duration;
  CHECK(parse_duration("10ns", "/d") == 10);
  CHECK(parse_duration("250us", "/d") == 250'000);
  CHECK(parse_duration("250µs", "/d") == 250'000);
  CHECK(parse_duration("5ms", "/d") == 5'000'000);
  CHECK(parse_duration("60s", "/d") == 60 * sim::kSecond);
  CHECK(parse_duration("2m", "/d") == 120 * sim::kSecond);
  CHECK(parse_duration("1h", "/d") == 3600 * sim::kSecond);
  CHECK(parse_duration("0.5ms", "/d") == 500'000);
  CHECK(parse_duration(".25s", "/d") == 250 * sim::kMillisecond);
  CHECK(parse_duration("1.5us", "/d") == 1'500);
  CHECK(parse_duration("2.5 ms", "/d") == 2'500'000);
  CHECK(parse_duration("0s", "/d") == 0);
  // 0.1 has no exact binary form; the parse must still land on the nanosecond.
  CHECK(parse_duration("0.1s", "/d") == 100'000'000);
  CHECK(parse_duration("1.000000001s", "/d") == 1'000'000'001);
}

TEST_CASE("durations reject numbers, signs and missing or unknown units", "[json][duration]") {
  using scenarios::parse_duration;
  const auto err = [](const json& v) {
    return error_from([&] { (void)parse_duration(v, "/run/duration"); });
  };
  CHECK(std::string(err(12).what()) == "/run/duration: expected a duration such as \"5ms\", got 12");
  CHECK(err(12).path() == "/run/duration");
  CHECK(contains(err(1.5).what(), "expected a duration"));
  CHECK(contains(err("-5ms").what(), "must not be negative"));
  CHECK(contains(err("5").what(), "missing a unit"));
  CHECK(contains(err("5sec").what(), "unknown unit \"sec\""));
  CHECK(contains(err("ms").what(), "expected a duration"));
  CHECK(contains(err("").what(), "expected a duration"));
  CHECK(contains(err("1e3ms").what(), "unknown unit"));
  CHECK(contains(err("99999999999h").what(), "too large"));
}

TEST_CASE("format_duration writes the largest exact unit", "[json][duration]") {
  using scenarios::format_duration;
  CHECK(format_duration(0) == "0s");
  CHECK(format_duration(1'500) == "1500ns");
  CHECK(format_duration(250'000) == "250us");
  CHECK(format_duration(2 * sim::kSecond) == "2s");
  CHECK(format_duration(90 * sim::kSecond) == "90s");
  CHECK(format_duration(120 * sim::kSecond) == "2m");
  for (sim::Time t : {sim::Time{1}, sim::Time{1'234'567}, 7 * sim::kMillisecond, 3600 * sim::kSecond}) {
    CHECK(scenarios::parse_duration(format_duration(t), "/t") == t);
  }
}

TEST_CASE("each distribution kind parses to the right mean", "[json][distribution]") {
  using scenarios::parse_distribution;
  using Kind = sim::Distribution::Kind;
  const auto d = [](const json& v) { return parse_distribution(v, "/d"); };
  CHECK(d("3ms").kind() == Kind::kConstant);
  CHECK(d("3ms").mean() == Approx(3e6));
  CHECK(d(json{{"kind", "constant"}, {"value", "1ms"}}).mean() == Approx(1e6));
  CHECK(d(json{{"kind", "exponential"}, {"mean", "200us"}}).kind() == Kind::kExponential);
  CHECK(d(json{{"kind", "exponential"}, {"mean", "200us"}}).mean() == Approx(2e5));
  CHECK(d(json{{"kind", "uniform"}, {"low", "1ms"}, {"high", "3ms"}}).mean() == Approx(2e6));
  CHECK(d(json{{"kind", "lognormal"}, {"mean", "2ms"}, {"cv", 0.8}}).mean() == Approx(2e6).epsilon(1e-9));
  CHECK(d(json{{"kind", "lognormal"}, {"mean", "2ms"}, {"p99", "10ms"}}).kind() == Kind::kLognormal);
  CHECK(d(json{{"kind", "lognormal"}, {"mean", "2ms"}, {"p99", "10ms"}}).mean() == Approx(2e6).epsilon(1e-9));
  // (3 x 1ms + 1 x 2ms) / 4 = 1.25ms
  CHECK(d(json{{"kind", "empirical"}, {"values", {"1ms", "2ms"}}, {"weights", {3, 1}}}).mean() ==
        Approx(1.25e6));
  CHECK(d(json{{"kind", "empirical"}, {"values", {"1ms", "3ms"}}}).mean() == Approx(2e6));
}

TEST_CASE("distribution errors name the field and the problem", "[json][distribution]") {
  const auto err = [](const json& v) {
    return error_from([&] { (void)scenarios::parse_distribution(v, "/clients/0/server_cpu"); });
  };
  CHECK(std::string(err(5).what()) == "/clients/0/server_cpu: expected a duration such as \"5ms\", got 5");
  CHECK(std::string(err(true).what()) ==
        "/clients/0/server_cpu: expected a duration such as \"5ms\" or a distribution object such as "
        "{\"kind\": \"exponential\", \"mean\": \"5ms\"}, got true");
  CHECK(err(json{{"mean", "1ms"}}).path() == "/clients/0/server_cpu/kind");
  const auto typo = err(json{{"kind", "exponentail"}, {"mean", "1ms"}});
  CHECK(typo.path() == "/clients/0/server_cpu/kind");
  CHECK(contains(typo.what(), "did you mean \"exponential\"?"));
  const auto wrong_key = err(json{{"kind", "exponential"}, {"value", "1ms"}});
  CHECK(wrong_key.path() == "/clients/0/server_cpu/value");
  CHECK(contains(wrong_key.what(), "unknown key"));
  CHECK(err(json{{"kind", "exponential"}, {"mean", "0s"}}).path() == "/clients/0/server_cpu/mean");
  CHECK(contains(err(json{{"kind", "exponential"}, {"mean", "0s"}}).what(), "must be greater than 0"));
  CHECK(err(json{{"kind", "uniform"}, {"low", "3ms"}, {"high", "1ms"}}).path() ==
        "/clients/0/server_cpu/high");
  CHECK(contains(err(json{{"kind", "lognormal"}, {"mean", "2ms"}, {"cv", 1}, {"p99", "9ms"}}).what(),
                 "exactly one of \"cv\" or \"p99\""));
  CHECK(contains(err(json{{"kind", "lognormal"}, {"mean", "2ms"}}).what(), "exactly one of"));
  // No lognormal has its 99th percentile below its mean, nor p99 / mean above exp(2.326^2 / 2) ~ 14.97.
  const auto low_tail = err(json{{"kind", "lognormal"}, {"mean", "2ms"}, {"p99", "1ms"}});
  CHECK(low_tail.path() == "/clients/0/server_cpu/p99");
  CHECK(contains(low_tail.what(), "no lognormal has mean 2ms and p99 1ms"));
  const auto heavy_tail = err(json{{"kind", "lognormal"}, {"mean", "1ms"}, {"p99", "20ms"}});
  CHECK(contains(heavy_tail.what(), "cannot exceed about 14.97"));
  CHECK(err(json{{"kind", "empirical"}, {"values", json::array()}}).path() == "/clients/0/server_cpu/values");
  CHECK(err(json{{"kind", "empirical"}, {"values", {"1ms", 2}}}).path() == "/clients/0/server_cpu/values/1");
  CHECK(contains(err(json{{"kind", "empirical"}, {"values", {"1ms"}}, {"weights", {1, 2}}}).what(),
                 "has 2 entries but values has 1"));
  CHECK(err(json{{"kind", "empirical"}, {"values", {"1ms"}}, {"weights", {-1}}}).path() ==
        "/clients/0/server_cpu/weights/0");
  CHECK(contains(err(json{{"kind", "empirical"}, {"values", {"1ms"}}, {"weights", {0}}}).what(),
                 "must not all be zero"));
}

TEST_CASE("IPv4 addresses convert to host order", "[json][ipv4]") {
  CHECK(scenarios::parse_ipv4("10.0.0.1", "/a") == 0x0a000001u);
  CHECK(scenarios::parse_ipv4("255.255.255.255", "/a") == 0xffffffffu);
  CHECK(scenarios::parse_ipv4("0.0.0.0", "/a") == 0u);
  CHECK(scenarios::format_ipv4(0xc0a80a02u) == "192.168.10.2");
  for (const json& bad : {json("10.0.0"), json("10.0.0.256"), json("10.0.0.1 "), json("a.b.c.d"),
                          json(167772161), json("1..2.3"), json("1.2.3.4.5"), json("0010.0.0.1")}) {
    const auto e = error_from([&] { (void)scenarios::parse_ipv4(bad, "/hosts/0/address"); });
    CHECK(e.path() == "/hosts/0/address");
    CHECK(contains(e.what(), "expected an IPv4 address"));
  }
}

TEST_CASE("an empty document gives the struct defaults and the default hosts", "[json][scenario]") {
  const scenarios::Scenario s = scenarios::parse_scenario(json::object());
  const models::WorldConfig defaults;
  REQUIRE(s.world.hosts.size() == 3);
  CHECK(s.world.hosts[0].name == "pooler");
  CHECK(s.world.hosts[0].address == 0x0a000001u);
  CHECK(s.world.hosts[0].cores == 4);
  CHECK(s.world.hosts[0].threads_per_core == 2);
  CHECK(s.world.hosts[1].name == "db");
  CHECK(s.world.hosts[1].cores == 8);
  CHECK(s.world.hosts[2].name == "client");
  CHECK(s.world.pooler.host == "pooler");
  CHECK(s.world.postgres.host == "db");
  REQUIRE(s.world.clients.size() == 1);
  CHECK(s.world.clients[0].hosts == std::vector<std::string>{"client"});
  CHECK(s.world.clients[0].name == "group0");
  CHECK(s.world.pooler.processes == defaults.pooler.processes);
  CHECK(s.world.pooler.default_pool_size == defaults.pooler.default_pool_size);
  CHECK(s.world.pooler.query_wait_timeout == defaults.pooler.query_wait_timeout);
  CHECK(s.world.pooler.pinning.empty());
  CHECK(s.world.kernel.listen_backlog == defaults.kernel.listen_backlog);
  CHECK_FALSE(s.world.kernel.hash_secret.has_value());
  CHECK(s.world.network.syn_retry == defaults.network.syn_retry);
  CHECK(s.run.duration == scenarios::RunConfig{}.duration);
  CHECK(s.run.replications == 1);
  CHECK(s.world.restarts.empty());
  CHECK(s.world.assignment.empty());
}

TEST_CASE("every section converts its fields", "[json][scenario]") {
  const json doc = json::parse(R"({
    "name": "all", "description": "every key",
    "run": {"duration": "30s", "warmup": "0s", "seed": 42, "replications": 3},
    "hosts": [{"name": "p", "address": "192.168.0.1", "cores": 2, "threads_per_core": 2, "smt_pair_throughput": 1.3},
              {"name": "d", "address": "192.168.0.2", "cores": 16, "timeslice": "1500us", "scheduler": "eevdf",
               "ipi_wakeup": "26us"},
              {"name": "c1", "address": "192.168.0.3"}, {"name": "c2", "address": "192.168.0.4"}],
    "network": {"latency": "100us", "loopback_latency": "5us", "softirq_per_packet": "2us", "syn_retry": "3s", "syn_retries": 2},
    "kernel": {"hash": "linux-6.14", "steering": "least_connections", "tcp_migrate_req": true, "wildcard_listener": false,
               "listen_backlog": 4096, "hash_secret": 4294967295, "port_range": [1024, 65535], "tw_reuse": false},
    "pooler": {"host": "p", "processes": 2, "pinning": [[0, 2], []], "listen_addr": "192.168.0.1", "listen_port": 5432,
               "pods": 3, "service_balancing": "round_robin", "pool_mode": "session", "default_pool_size": 7,
               "min_pool_size": 1, "reserve_pool_size": 2, "reserve_pool_timeout": "1s", "max_client_conn": 500,
               "max_db_connections": 9, "query_wait_timeout": "0s", "server_login_retry": "2s", "server_round_robin": true,
               "cpu": {"query": "5us", "result": "6us", "login": {"kind": "exponential", "mean": "1ms"}, "server_login": "7us"}},
    "postgres": {"host": "d", "max_connections": 300, "backend_startup": "2ms", "reset_query": "0s",
                 "cold_cpu": [[3, "0us"], [47, "7500ns"]]},
    "clients": [{"name": "g", "count": 5, "hosts": ["c1", "c2"], "database": "db1", "user": "u1", "mode": "open", "rate": 12.5,
                 "connection": "persistent", "lifetime": "10s", "reconnect_delay": "50ms", "queries_per_transaction": 3,
                 "server_cpu": "1ms", "server_wait": "2ms", "client_cpu": "3us", "client_threads": 2, "start": "1s", "weight": 2.5},
                {"count": 2, "host": "c2", "connection": "per_transaction", "think_time": "4ms"}],
    "restarts": [{"at": "12s", "process": 5, "mode": "disconnect", "downtime": "0s", "drain_timeout": "1s"}],
    "assignment": [1, 1, 1, 1, 0, 1],
    "timeseries_interval": "100ms"
  })");
  const scenarios::Scenario s = scenarios::parse_scenario(doc);
  const auto& w = s.world;
  CHECK(s.name == "all");
  CHECK(s.run.duration == 30 * sim::kSecond);
  CHECK(s.run.warmup == 0);
  CHECK(s.run.seed == 42);
  CHECK(s.run.replications == 3);
  CHECK(w.hosts.size() == 4);
  CHECK(w.hosts[0].smt_pair_throughput == 1.3);
  CHECK(w.hosts[0].scheduler == models::HostConfig::Scheduler::kFifo);
  CHECK(w.hosts[1].timeslice == 1500 * sim::kMicrosecond);
  CHECK(w.hosts[1].scheduler == models::HostConfig::Scheduler::kEevdf);
  CHECK(w.hosts[1].ipi_wakeup == 26 * sim::kMicrosecond);
  CHECK(w.hosts[0].ipi_wakeup == 0);
  CHECK(w.hosts[2].cores == 1);
  CHECK(w.network.latency == 100 * sim::kMicrosecond);
  CHECK(w.network.softirq_per_packet == 2 * sim::kMicrosecond);
  CHECK(w.network.syn_retries == 2);
  CHECK(w.kernel.hash == models::HashFormula::kLinux614);
  CHECK(w.kernel.steering == models::Steering::kLeastConnections);
  CHECK(w.kernel.tcp_migrate_req);
  CHECK_FALSE(w.kernel.wildcard_listener);
  CHECK(w.kernel.hash_secret == 0xffffffffu);
  CHECK(w.kernel.port_range_low == 1024);
  CHECK(w.kernel.port_range_high == 65535);
  CHECK_FALSE(w.kernel.tw_reuse);
  CHECK(w.pooler.host == "p");
  CHECK(w.pooler.pinning == std::vector<std::vector<int>>{{0, 2}, {}});
  CHECK(w.pooler.listen_addr == 0xc0a80001u);
  CHECK(w.pooler.listen_port == 5432);
  CHECK(w.pooler.pods == 3);
  CHECK(w.pooler.service_round_robin);
  CHECK(w.pooler.pool_mode == models::PoolMode::kSession);
  CHECK(w.pooler.default_pool_size == 7);
  CHECK(w.pooler.query_wait_timeout == 0);
  CHECK(w.pooler.server_round_robin);
  CHECK(w.pooler.cpu.login.kind() == sim::Distribution::Kind::kExponential);
  CHECK(w.pooler.cpu.query.mean() == Approx(5e3));
  CHECK(w.postgres.max_connections == 300);
  CHECK(w.postgres.reset_query.is_zero());
  REQUIRE(w.postgres.cold_cpu.size() == 2);
  CHECK(w.postgres.cold_cpu[1].distance == 47);
  CHECK(w.postgres.cold_cpu[1].extra == 7500);
  REQUIRE(w.clients.size() == 2);
  CHECK(w.clients[0].hosts == std::vector<std::string>{"c1", "c2"});
  CHECK(w.clients[0].mode == models::LoopMode::kOpen);
  CHECK(w.clients[0].rate == 12.5);
  CHECK(w.clients[0].lifetime.has_value());
  CHECK(w.clients[0].queries_per_transaction == 3);
  CHECK(w.clients[0].weight == 2.5);
  CHECK(w.clients[0].start == sim::kSecond);
  CHECK(w.clients[1].name == "group1");
  CHECK(w.clients[1].hosts == std::vector<std::string>{"c2"});
  CHECK(w.clients[1].connection == models::ConnectionMode::kPerTransaction);
  CHECK(w.clients[1].think_time.mean() == Approx(4e6));
  REQUIRE(w.restarts.size() == 1);
  CHECK(w.restarts[0].process == 5);
  CHECK(w.restarts[0].mode == models::RestartMode::kDisconnect);
  CHECK(w.assignment == std::vector<int>{1, 1, 1, 1, 0, 1});
  CHECK(w.timeseries_interval == 100 * sim::kMillisecond);
}

TEST_CASE("validation messages name the JSON path of the first problem", "[json][errors]") {
  const auto message = [](const json& doc) { return std::string(error_of(doc).what()); };

  CHECK(message({{"pooler", {{"processes", 0}}}}) == "/pooler/processes: must be at least 1, got 0");
  CHECK(message({{"clients", {{{"think_time", 12}}}}}) ==
        "/clients/0/think_time: expected a duration such as \"5ms\", got 12");
  CHECK(message({{"pooler", {{"pool_sise", 4}}}}) ==
        "/pooler/pool_sise: unknown key (did you mean \"pool_size\"?)");
  CHECK(message({{"clients", {{{"hosts", {"clinet"}}}}}}) ==
        "/clients/0/hosts/0: no host named \"clinet\" (did you mean \"client\"?)");
  const json small_host = {{"hosts",
                            {{{"name", "pooler"}, {"address", "10.0.0.1"}, {"cores", 4}},
                             {{"name", "db"}, {"address", "10.0.0.2"}},
                             {{"name", "client"}, {"address", "10.0.0.3"}}}},
                           {"pooler", {{"processes", 2}, {"pinning", {{0}, {9}}}}}};
  CHECK(message(small_host) ==
        "/pooler/pinning/1/0: cpu 9 does not exist on host \"pooler\" (it has cpus 0-3)");

  CHECK(message({{"pooller", json::object()}}) == "/pooller: unknown key (did you mean \"pooler\"?)");
  CHECK(message(json::array()) == "/: expected an object, got []");
  CHECK(message({{"pooler", {{"processes", "4"}}}}) == "/pooler/processes: expected an integer, got \"4\"");
  CHECK(message({{"pooler", {{"processes", 2.5}}}}) == "/pooler/processes: expected an integer, got 2.5");
  CHECK(message({{"run", {{"duration", "0s"}}}}) == "/run/duration: must be greater than 0, got \"0s\"");
  CHECK(message({{"run", {{"warmup", "-1s"}}}}) == "/run/warmup: must not be negative, got \"-1s\"");
  CHECK(message({{"run", {{"replications", 0}}}}) == "/run/replications: must be at least 1, got 0");
  CHECK(message({{"run", {{"replications", 10001}}}}) ==
        "/run/replications: must be at most 10000, got 10001");
  CHECK(message({{"network", {{"syn_retry", "0ms"}}}}) ==
        "/network/syn_retry: must be greater than 0, got \"0ms\"");
  CHECK(message({{"pooler", {{"listen_port", 65536}}}}) ==
        "/pooler/listen_port: must be at most 65535, got 65536");
  CHECK(message({{"pooler", {{"listen_port", 0}}}}) == "/pooler/listen_port: must be at least 1, got 0");
  CHECK(message({{"pooler", {{"pool_size", -1}}}}) == "/pooler/pool_size: must be at least 0, got -1");
  CHECK(message({{"kernel", {{"port_range", {40000, 30000}}}}}) ==
        "/kernel/port_range/1: must be at least low (40000), got 30000");
  CHECK(message({{"kernel", {{"tcp_migrate_req", 1}}}}) ==
        "/kernel/tcp_migrate_req: expected true or false, got 1");
  CHECK(message({{"postgres", {{"cold_cpu", "5us"}}}}) ==
        "/postgres/cold_cpu: expected a list of [distance, extra CPU] points such as [[4, \"0us\"], [48, \"8us\"]], "
        "got \"5us\"");
  CHECK(message({{"postgres", {{"cold_cpu", {{4, "0us", 1}}}}}}) ==
        "/postgres/cold_cpu/0: expected a point [distance, extra CPU] such as [48, \"8us\"], got [4,\"0us\",1]");
  CHECK(message({{"postgres", {{"cold_cpu", {{-1, "0us"}}}}}}) == "/postgres/cold_cpu/0/0: must be at least 0, got -1");
  CHECK(message({{"postgres", {{"cold_cpu", {{4, 3}}}}}}) ==
        "/postgres/cold_cpu/0/1: expected a duration such as \"5ms\", got 3");
  CHECK(message({{"postgres", {{"cold_cpu", {{4, "-1us"}}}}}}) ==
        "/postgres/cold_cpu/0/1: must not be negative, got \"-1us\"");
  CHECK(message({{"postgres", {{"cold_cpu", {{4, "0us"}, {4, "2us"}}}}}}) ==
        "/postgres/cold_cpu/1/0: must be greater than the previous point's distance (4), got 4");
  CHECK(
      message({{"kernel", {{"steering", "hsh"}}}}) ==
      "/kernel/steering: expected one of \"hash\", \"bpf_cpu\", \"incoming_cpu\", or \"least_connections\", "
      "got \"hsh\" (did you mean \"hash\"?)");
  CHECK(message({{"pooler", {{"host", "bouncer"}}}}) ==
        "/pooler/host: no host named \"bouncer\" (hosts are \"pooler\", \"db\", or \"client\")");
  CHECK(message({{"hosts", {{{"name", "x"}, {"address", "10.0.0.1"}}}}}) ==
        "/pooler/host: no host named \"pooler\" (hosts are \"x\")");
  CHECK(message({{"hosts", {{{"name", "x"}}}}}) ==
        "/hosts/0/address: missing (every host needs an IPv4 address such as \"10.0.0.1\")");
  CHECK(contains(
      message(
          {{"hosts", {{{"name", "x"}, {"address", "10.0.0.1"}}, {{"name", "y"}, {"address", "10.0.0.1"}}}}}),
      "/hosts/1/address: address 10.0.0.1 is already used by host \"x\""));
  CHECK(message({{"clients", json::array()}}) == "/clients: needs at least one client group");
  CHECK(message({{"clients", {{{"count", 0}}}}}) == "/clients/0/count: must be at least 1, got 0");
  CHECK(message({{"clients", {{{"mode", "open"}}}}}) ==
        "/clients/0/rate: missing: an open-loop group needs a rate (transactions per second per client)");
  CHECK(message({{"clients", {{{"mode", "open"}, {"rate", 0}}}}}) ==
        "/clients/0/rate: must be greater than 0, got 0");
  CHECK(
      contains(message({{"clients", {{{"rate", 5}}}}}), "/clients/0/rate: applies to open-loop groups only"));
  CHECK(contains(message({{"clients", {{{"mode", "open"}, {"rate", 5}, {"think_time", "1ms"}}}}}),
                 "/clients/0/think_time: applies to closed-loop groups only"));
  CHECK(contains(message({{"clients", {{{"connection", "per_transaction"}, {"lifetime", "1s"}}}}}),
                 "/clients/0/lifetime: applies to persistent connections only"));
  CHECK(contains(message({{"clients", {{{"host", "client"}, {"hosts", {"client"}}}}}}),
                 "/clients/0/host: give"));
  CHECK(message({{"clients", {{{"host", "clinet"}}}}}) ==
        "/clients/0/host: no host named \"clinet\" (did you mean \"client\"?)");
  CHECK(contains(message({{"clients", {{{"name", "a"}}, {{"name", "a"}}}}}),
                 "/clients/1/name: group name \"a\""));
  CHECK(message({{"clients", {{{"weight", 0}}}}}) == "/clients/0/weight: must be greater than 0, got 0");
  CHECK(contains(message({{"pooler", {{"pool_size", 1}, {"default_pool_size", 2}}}}),
                 "/pooler/default_pool_size: is an alias"));
  CHECK(message({{"pooler", {{"processes", 2}, {"pods", 2}}}, {"restarts", {{{"process", 4}}}}}) ==
        "/restarts/0/process: must be less than 4 (pods x processes), got 4");
  CHECK(message({{"restarts", {{{"at", "1s"}, {"mode", "graceful"}}}}}) ==
        "/restarts/0/mode: expected one of \"wait_for_clients\" or \"disconnect\", got \"graceful\"");
  CHECK(message({{"rolling_restart", {{"interval", "0s"}}}}) ==
        "/rolling_restart/interval: must be greater than 0, got \"0s\"");
  CHECK(message({{"assignment", {1, 2, 3}}}) ==
        "/assignment: has 3 entries but there are 2 processes (pods x processes)");
  CHECK(message({{"assignment", {1, 2}}}) ==
        "/assignment: assigns 3 connections but there are only 1 persistent clients");
  CHECK(message({{"assignment", {1, -1}}}) == "/assignment/1: must be at least 0, got -1");
  CHECK(message({{"pooler", {{"pinning", {{0}}}}}}) ==
        "/pooler/pinning: has 1 entries but there are 2 processes (one cpu list per process)");
  CHECK(message({{"pooler", {{"pinning", {{0, 0}, {1}}}}}}) == "/pooler/pinning/0/1: cpu 0 is listed twice");
  CHECK(message({{"pooler", {{"cpu", {{"querry", "1us"}}}}}}) ==
        "/pooler/cpu/querry: unknown key (did you mean \"query\"?)");
  CHECK(message({{"timeseries_interval", 5}}) ==
        "/timeseries_interval: expected a duration such as \"5ms\", got 5");
  CHECK(message({{"run", {{"seed", -1}}}}) == "/run/seed: must be at least 0, got -1");
  CHECK(message({{"kernel", {{"hash_secret", 4294967296LL}}}}) ==
        "/kernel/hash_secret: must be at most 4294967295, got 4294967296");
  CHECK(message({{"hosts", {{{"name", "h"}, {"address", "10.0.0.1"}, {"smt_pair_throughput", 2.5}}}}})
            .rfind("/hosts/0/smt_pair_throughput: must be at most 2", 0) == 0);
  CHECK(message({{"hosts", {{{"name", "h"}, {"address", "10.0.0.1"}, {"scheduler", "eevdf"}}}}}) ==
        "/hosts/0/scheduler: \"eevdf\" needs a run queue: set timeslice above 0");
  CHECK(message({{"hosts", {{{"name", "h"}, {"address", "10.0.0.1"}, {"scheduler", "cfs"}}}}})
            .rfind("/hosts/0/scheduler: ", 0) == 0);
  // ipi_wakeup needs EEVDF's preemption decision and the run queue's waker; a FIFO run queue is not enough.
  CHECK(message({{"hosts",
                  {{{"name", "h"}, {"address", "10.0.0.1"}, {"timeslice", "1ms"}, {"ipi_wakeup", "5us"}}}}}) ==
        "/hosts/0/ipi_wakeup: needs the EEVDF run queue, which decides preemption: set scheduler \"eevdf\"");
  CHECK(message({{"hosts", {{{"name", "h"}, {"address", "10.0.0.1"}, {"ipi_wakeup", "-1us"}}}}})
            .rfind("/hosts/0/ipi_wakeup: ", 0) == 0);
}

TEST_CASE("cross_cpu_message needs a run queue and a loopback without delay", "[json][errors]") {
  // The sending cpu is the one whose burst ended at the instant a message arrives: only a run queue tracks it, and
  // only a loopback without delay delivers at that instant.
  const auto message = [](const json& doc) { return std::string(error_of(doc).what()); };
  const json host = {{"name", "h"}, {"address", "10.0.0.1"}, {"timeslice", "1ms"}, {"cross_cpu_message", "4us"}};
  const json ok = {{"hosts", {host}},
                   {"network", {{"loopback_latency", "0s"}}},
                   {"pooler", {{"host", "h"}}},
                   {"postgres", {{"host", "h"}}},
                   {"clients", {{{"host", "h"}}}}};
  CHECK(scenarios::parse_scenario(ok).world.hosts[0].cross_cpu_message == 4 * sim::kMicrosecond);
  json plain = ok;
  plain["hosts"][0].erase("cross_cpu_message");
  CHECK(scenarios::parse_scenario(plain).world.hosts[0].cross_cpu_message == 0);
  json no_queue = ok;
  no_queue["hosts"][0].erase("timeslice");
  CHECK(message(no_queue) ==
        "/hosts/0/cross_cpu_message: needs a run queue, which knows the sending cpu: set timeslice above 0");
  json delayed = ok;
  delayed.erase("network");  // the default loopback_latency is 10 us
  CHECK(message(delayed) == "/hosts/0/cross_cpu_message: needs a loopback without delay, which keeps the sending "
                            "cpu: set network.loopback_latency to \"0s\"");
  json negative = ok;
  negative["hosts"][0]["cross_cpu_message"] = "-1us";
  CHECK(message(negative).rfind("/hosts/0/cross_cpu_message: ", 0) == 0);
}

TEST_CASE("unknown keys are caught in every object", "[json][errors]") {
  // One misspelt key per object of the format; each must be reported at its own path.
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"run", {{"durration", "1s"}}}}, "/run/durration"},
      {{{"network", {{"latncy", "1us"}}}}, "/network/latncy"},
      {{{"kernel", {{"steer", "hash"}}}}, "/kernel/steer"},
      {{{"postgres", {{"max_conections", 5}}}}, "/postgres/max_conections"},
      {{{"clients", {{{"cnt", 5}}}}}, "/clients/0/cnt"},
      {{{"restarts", {{{"att", "1s"}}}}}, "/restarts/0/att"},
      {{{"rolling_restart", {{"intervall", "1s"}}}}, "/rolling_restart/intervall"},
      {{{"hosts", {{{"name", "h"}, {"address", "10.0.0.1"}, {"core", 2}}}}}, "/hosts/0/core"},
  };
  for (const auto& [doc, path] : cases) {
    const auto e = error_of(doc);
    CHECK(e.path() == path);
    CHECK(contains(e.what(), "unknown key (did you mean"));
  }
  // Far from every valid key: no guess, but the short list of what is accepted.
  CHECK(std::string(error_of({{"run", {{"zzzzzz", 1}}}}).what()) ==
        "/run/zzzzzz: unknown key (expected \"duration\", \"warmup\", \"seed\", or \"replications\")");
}

TEST_CASE("pinning shorthands expand to the right cpus", "[json][pinning]") {
  // The default pooler host has 4 cores x 2 threads: cpu j and cpu j + 4 are the hyperthreads of core j.
  const auto pinning = [](const json& mode, int processes) {
    return scenarios::parse_scenario({{"pooler", {{"processes", processes}, {"pinning", mode}}}})
        .world.pooler.pinning;
  };
  using Pins = std::vector<std::vector<int>>;
  CHECK(pinning("none", 3).empty());
  CHECK(pinning("cores", 3) == Pins{{0}, {1}, {2}});
  CHECK(pinning("siblings", 2) == Pins{{0}, {4}});
  CHECK(pinning("siblings", 4) == Pins{{0}, {4}, {1}, {5}});
  CHECK(pinning("siblings", 3) == Pins{{0}, {4}, {1}});
  CHECK(pinning("shared", 3) == Pins{{0}, {0}, {0}});
  CHECK(pinning(json{0, {1, 5}}, 2) == Pins{{0}, {1, 5}});
  CHECK(pinning(json{json::array(), {7}}, 2) == Pins{{}, {7}});

  CHECK(contains(
      error_of({{"pooler", {{"processes", 5}, {"pinning", "cores"}}}}).what(),
      "/pooler/pinning: \"cores\" gives each process its own core, but there are 5 processes and 4 cores"));
  CHECK(contains(error_of({{"pooler", {{"processes", 9}, {"pinning", "siblings"}}}}).what(),
                 "two processes on each core"));
  const json no_smt = {{"hosts",
                        {{{"name", "pooler"}, {"address", "10.0.0.1"}, {"cores", 8}},
                         {{"name", "db"}, {"address", "10.0.0.2"}},
                         {{"name", "client"}, {"address", "10.0.0.3"}}}},
                       {"pooler", {{"pinning", "siblings"}}}};
  CHECK(std::string(error_of(no_smt).what()) ==
        "/pooler/pinning: \"siblings\" needs hyperthreads, but host \"pooler\" has 1 thread per core");
  CHECK(contains(error_of({{"pooler", {{"pinning", "core"}}}}).what(), "did you mean \"cores\"?"));
  CHECK(error_of({{"pooler", {{"pinning", {0, 8}}}}}).path() == "/pooler/pinning/1");
}

TEST_CASE("rolling_restart expands to one restart per process in order", "[json][restarts]") {
  const auto s = scenarios::parse_scenario(json::parse(R"({
    "run": {"warmup": "2s"},
    "pooler": {"pods": 2, "processes": 2},
    "restarts": [{"at": "1s", "process": 3}],
    "rolling_restart": {"start": "5s", "interval": "3s", "mode": "disconnect", "downtime": "500ms"}
  })"));
  const auto& r = s.world.restarts;
  REQUIRE(r.size() == 5);
  CHECK(r[0].at == sim::kSecond);
  CHECK(r[0].process == 3);
  for (int k = 0; k < 4; ++k) {
    CHECK(r[static_cast<std::size_t>(k + 1)].process == k);
    CHECK(r[static_cast<std::size_t>(k + 1)].at == (5 + 3 * k) * sim::kSecond);
    CHECK(r[static_cast<std::size_t>(k + 1)].mode == models::RestartMode::kDisconnect);
    CHECK(r[static_cast<std::size_t>(k + 1)].downtime == 500 * sim::kMillisecond);
  }
  // Without a start the first restart comes when the warm-up ends.
  const auto d =
      scenarios::parse_scenario({{"run", {{"warmup", "2s"}}}, {"rolling_restart", json::object()}});
  REQUIRE(d.world.restarts.size() == 2);
  CHECK(d.world.restarts[0].at == 2 * sim::kSecond);
  CHECK(d.world.restarts[1].at == 7 * sim::kSecond);
}

TEST_CASE("apply_set edits nested paths with JSON or string values", "[json][set]") {
  json doc = scenarios::default_scenario_json();
  scenarios::apply_set(doc, "pooler.processes=4");
  CHECK(doc["pooler"]["processes"] == 4);
  scenarios::apply_set(doc, "run.duration=30s");
  CHECK(doc["run"]["duration"] == "30s");
  scenarios::apply_set(doc, "clients.0.count=7");
  CHECK(doc["clients"][0]["count"] == 7);
  scenarios::apply_set(doc, "kernel.tcp_migrate_req=true");
  CHECK(doc["kernel"]["tcp_migrate_req"] == true);
  scenarios::apply_set(doc, "pooler.pinning=siblings");
  CHECK(doc["pooler"]["pinning"] == "siblings");
  scenarios::apply_set(doc, "pooler.pinning=[[0],[1],[2],[3]]");
  CHECK(doc["pooler"]["pinning"][3][0] == 3);
  scenarios::apply_set(doc, "pooler.pinning.3=[7]");
  CHECK(doc["pooler"]["pinning"][3] == json{7});
  scenarios::apply_set(doc, R"(clients.0.think_time={"kind":"exponential","mean":"5ms"})");
  CHECK(doc["clients"][0]["think_time"]["kind"] == "exponential");
  scenarios::apply_set(doc, "clients.0.think_time.mean=9ms");
  CHECK(doc["clients"][0]["think_time"]["mean"] == "9ms");
  scenarios::apply_set(doc, "name=\"quoted\"");
  CHECK(doc["name"] == "quoted");
  scenarios::apply_set(doc, "description=a=b");  // only the first '=' separates
  CHECK(doc["description"] == "a=b");

  // Missing intermediates that the format allows are created; index == size appends.
  scenarios::apply_set(doc, "pooler.cpu.login=1ms");
  CHECK(doc["pooler"]["cpu"]["login"] == "1ms");
  scenarios::apply_set(doc, "rolling_restart.interval=2s");
  CHECK(doc["rolling_restart"]["interval"] == "2s");
  scenarios::apply_set(doc, "clients.1.count=3");
  REQUIRE(doc["clients"].size() == 2);
  CHECK(doc["clients"][1]["count"] == 3);
  scenarios::apply_set(doc, "clients.1.name=second");

  const scenarios::Scenario s = scenarios::parse_scenario(doc);
  CHECK(s.world.pooler.processes == 4);
  CHECK(s.run.duration == 30 * sim::kSecond);
  CHECK(s.world.clients[0].count == 7);
  CHECK(s.world.clients[0].think_time.mean() == Approx(9e6));
  CHECK(s.world.clients[1].count == 3);
  CHECK(s.world.pooler.pinning[3] == std::vector<int>{7});
  CHECK(s.world.restarts.size() == 4);

  // null removes a key, returning it to its default.
  scenarios::apply_set(doc, "rolling_restart=null");
  CHECK_FALSE(doc.contains("rolling_restart"));
  scenarios::apply_set(doc, "clients.1=null");
  CHECK(doc["clients"].size() == 1);
}

TEST_CASE("apply_set rejects unknown paths and leaves the document unchanged", "[json][set]") {
  json doc = scenarios::default_scenario_json();
  const json before = doc;
  const auto err = [&](const std::string& assignment) {
    return error_from([&] { scenarios::apply_set(doc, assignment); });
  };
  const auto typo = err("pooler.processs=4");
  CHECK(std::string(typo.what()) == "/pooler/processs: unknown key (did you mean \"processes\"?)");
  CHECK(typo.path() == "/pooler/processs");
  CHECK(err("poolr.processes=4").path() == "/poolr");
  CHECK(
      contains(err("clients.5.count=1").what(), "/clients/5: index 5 is past the end (there are 1 entries"));
  CHECK(contains(err("clients.first.count=1").what(), "/clients/first: expected an array index"));
  CHECK(err("pooler.processes.x=1").path() == "/pooler/processes/x");
  json constant = {{"clients", {{{"think_time", "1ms"}}}}};
  CHECK(error_from([&] { scenarios::apply_set(constant, "clients.0.think_time.mean=2ms"); }).path() ==
        "/clients/0/think_time");  // a constant written as a string, not an object
  CHECK(contains(err("clients.0.server_cpu.meen=1ms").what(), "did you mean \"mean\"?"));
  CHECK(err("pooler.processes").path() == "--set");
  CHECK(err("=4").path() == "--set");
  CHECK(err("pooler..processes=4").path() == "--set");
  CHECK(doc == before);
  CHECK(err("clients.1.hosts.0=client").path() ==
        "/clients/1/hosts");  // appending, then into a missing whole value
  CHECK(doc == before);
}

TEST_CASE("to_json_pointer turns dotted paths into pointers", "[json][set]") {
  CHECK(scenarios::to_json_pointer("pooler.processes") == "/pooler/processes");
  CHECK(scenarios::to_json_pointer("clients.0.count") == "/clients/0/count");
  CHECK(scenarios::to_json_pointer("a/b.c~d") == "/a~1b/c~0d");
  CHECK(scenarios::to_json_pointer("") == "");
}

TEST_CASE("files: unreadable, malformed JSON with line and column, name from the stem", "[json][file]") {
  const auto missing = error_from([] { (void)scenarios::load_scenario_file("/nonexistent/rpsim.json"); });
  CHECK(missing.path() == "/nonexistent/rpsim.json");
  CHECK(contains(missing.what(), "cannot read"));

  const auto dir =
      error_from([] { (void)scenarios::load_scenario_file(fs::temp_directory_path().string()); });
  CHECK(contains(dir.what(), "is a directory"));

  // The stray comma before '}' on line 3: the parser stops at the '}', column 3.
  const TempFile trailing_comma("rpsim_bad", "{\n  \"name\": \"x\",\n  }\n");
  const auto e = error_from([&] { (void)scenarios::load_scenario_file(trailing_comma.path()); });
  CHECK(e.path() == trailing_comma.path() + ":3:3");
  CHECK(contains(e.what(), "syntax error"));
  CHECK_FALSE(contains(e.what(), "json.exception"));

  const TempFile empty("rpsim_empty", "");
  CHECK(error_from([&] { (void)scenarios::load_scenario_file(empty.path()); }).path() ==
        empty.path() + ":1:1");

  const TempFile truncated("rpsim_truncated", "{\"pooler\": {\"processes\": 4}");
  CHECK(contains(error_from([&] { (void)scenarios::load_scenario_file(truncated.path()); }).path(),
                 truncated.path() + ":1:"));

  const TempFile invalid("rpsim_invalid", "{\"pooler\": {\"processes\": 0}}");
  CHECK(error_from([&] { (void)scenarios::load_scenario_file(invalid.path()); }).path() ==
        "/pooler/processes");

  // nlohmann would keep the second value silently; a scenario file must not.
  const TempFile duplicate("rpsim_duplicate",
                           R"({"clients": [{"count": 1}, {"count": 2, "name": "b", "count": 3}]})");
  const auto dup = error_from([&] { (void)scenarios::load_json_file(duplicate.path()); });
  CHECK(std::string(dup.what()) == "/clients/1/count: duplicate key");
  const TempFile nested("rpsim_nested",
                        R"({"a": [[1, 2], {"x": {"y": 1}}], "pooler": {"cpu": {}, "cpu": {}}})");
  CHECK(error_from([&] { (void)scenarios::load_json_file(nested.path()); }).path() == "/pooler/cpu");
  const TempFile same_key_elsewhere(
      "rpsim_distinct", R"({"run": {"seed": 1}, "kernel": {"seed": 2}, "x": [{"k": 1}, {"k": 2}]})");
  CHECK_NOTHROW(scenarios::load_json_file(same_key_elsewhere.path()));

  const TempFile unnamed("rpsim_unnamed", "{}");
  CHECK(scenarios::load_scenario_file(unnamed.path()).name == fs::path(unnamed.path()).stem().string());
}

TEST_CASE("the default scenario parses", "[json][examples]") {
  const scenarios::Scenario s = scenarios::default_scenario();
  CHECK(s.name == "default");
  CHECK(s.world.pooler.processes == 2);
  CHECK(s.world.pooler.pinning == std::vector<std::vector<int>>{{0}, {1}});
  CHECK_FALSE(s.world.clients.empty());
  CHECK(s.run.duration <= 30 * sim::kSecond);  // a first `rpsim run` should answer quickly
}

TEST_CASE("every example scenario parses and stays short", "[json][examples]") {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(kExamples)) {
    if (entry.path().extension() != ".json") continue;
    INFO(entry.path().string());
    scenarios::Scenario s;
    REQUIRE_NOTHROW(s = scenarios::load_scenario_file(entry.path().string()));
    CHECK(s.name == entry.path().stem().string());
    CHECK_FALSE(s.description.empty());
    CHECK(s.run.duration + s.run.warmup <= 40 * sim::kSecond);
    names.insert(s.name);
  }
  for (const char* expected :
       {"smt_siblings", "separate_cores", "pinning_imbalance", "connection_churn", "pool_exhaustion",
        "rolling_restart", "rolling_restart_migrate", "kubernetes_service", "one_pod_reuseport"}) {
    CHECK(names.count(expected) == 1);
  }
}

TEST_CASE("paired examples differ only in what they compare", "[json][examples]") {
  const auto strip = [](json doc, const std::vector<std::string>& pointers) {
    for (const auto& p : pointers) {
      const json::json_pointer ptr(p);
      doc[ptr.parent_pointer()].erase(ptr.back());
    }
    return doc;
  };
  const std::vector<std::string> labels = {"/name", "/description"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), labels.begin(), labels.end());
    return extra;
  };
  CHECK(strip(read_example("separate_cores.json"), with({"/pooler/pinning"})) ==
        strip(read_example("smt_siblings.json"), with({"/pooler/pinning"})));
  CHECK(strip(read_example("rolling_restart.json"), with({"/kernel/tcp_migrate_req"})) ==
        strip(read_example("rolling_restart_migrate.json"), with({"/kernel/tcp_migrate_req"})));
  const auto pods = with({"/pooler/pods", "/pooler/processes", "/pooler/service_balancing"});
  CHECK(strip(read_example("kubernetes_service.json"), pods) ==
        strip(read_example("one_pod_reuseport.json"), pods));

  const auto load = [](const std::string& name) {
    return scenarios::load_scenario_file((kExamples / name).string());
  };
  CHECK(load("separate_cores.json").world.pooler.pinning == std::vector<std::vector<int>>{{0}, {1}});
  CHECK(load("smt_siblings.json").world.pooler.pinning == std::vector<std::vector<int>>{{0}, {4}});
  CHECK_FALSE(load("rolling_restart.json").world.kernel.tcp_migrate_req);
  CHECK(load("rolling_restart_migrate.json").world.kernel.tcp_migrate_req);
  CHECK(load("rolling_restart.json").world.restarts.size() == 4);
  const auto k8s = load("kubernetes_service.json").world.pooler;
  const auto one = load("one_pod_reuseport.json").world.pooler;
  CHECK(k8s.pods * k8s.processes == one.pods * one.processes);
}

namespace {

// Follows a local "$ref" such as "#/$defs/duration".
const json& resolve(const json& schema, const json& node) {
  if (node.is_object() && node.contains("$ref")) {
    const std::string ref = node["$ref"].get<std::string>();
    REQUIRE(ref.rfind("#", 0) == 0);
    return resolve(schema, schema.at(json::json_pointer(ref.substr(1))));
  }
  return node;
}

// The schema node describing a generic pointer of the format ("/clients/*/think_time").
const json& schema_at(const json& schema, const std::string& generic) {
  const json* node = &schema;
  std::string rest = generic;
  while (!rest.empty()) {
    const std::size_t next = rest.find('/', 1);
    const std::string seg = rest.substr(1, next == std::string::npos ? std::string::npos : next - 1);
    rest = next == std::string::npos ? "" : rest.substr(next);
    const json& here = resolve(schema, *node);
    node = seg == "*" ? &here.at("items") : &here.at("properties").at(seg);
  }
  return resolve(schema, *node);
}

}  // namespace

TEST_CASE("schema.json accepts exactly the keys the parser accepts", "[json][schema]") {
  std::ifstream in(fs::path(RPSIM_SOURCE_DIR) / "scenarios" / "schema.json");
  REQUIRE(in);
  const json schema = json::parse(in);
  CHECK(schema["$schema"] == "https://json-schema.org/draft/2020-12/schema");
  for (const char* object : {"", "/run", "/hosts/*", "/network", "/kernel", "/pooler", "/pooler/cpu",
                             "/postgres", "/clients/*", "/restarts/*", "/rolling_restart"}) {
    INFO("object " << (*object ? object : "(root)"));
    const json& node = schema_at(schema, object);
    std::vector<std::string> in_schema;
    for (const auto& [key, value] : node.at("properties").items()) in_schema.push_back(key);
    std::vector<std::string> in_parser = scenarios::known_keys(object);
    std::sort(in_parser.begin(), in_parser.end());
    CHECK(in_schema == in_parser);
    CHECK(node.value("additionalProperties", true) == false);
  }
}

TEST_CASE("no value anywhere makes the parser fail other than with a ScenarioError", "[json][robustness]") {
  // Every place of every example (and of the default) gets every kind of wrong value; each document must either
  // parse or raise ScenarioError. An assert in a model constructor or a json type_error would end the test run.
  const std::vector<json> bad = {nullptr,
                                 true,
                                 -1,
                                 0,
                                 1e308,
                                 -1e308,
                                 18446744073709551615ULL,
                                 "",
                                 "x",
                                 "-1ms",
                                 "100001h",
                                 "99999h",
                                 json::array(),
                                 json::object(),
                                 {json::array()},
                                 {{"kind", "lognormal"}, {"mean", "99999h"}, {"cv", 1e300}},
                                 {{"kind", "empirical"}, {"values", {"1ms", "2ms"}}, {"weights", {1e308, 1e308}}},
                                 {{"kind", "uniform"}, {"low", "0s"}, {"high", "99999h"}}};
  std::vector<json> docs = {scenarios::default_scenario_json()};
  for (const auto& entry : fs::directory_iterator(kExamples)) {
    if (entry.path().extension() == ".json") docs.push_back(scenarios::load_json_file(entry.path().string()));
  }
  std::size_t parsed = 0, rejected = 0;
  for (const json& doc : docs) {
    const json flat = doc.flatten();
    std::set<std::string> places;
    for (const auto& [pointer, value] : flat.items()) {
      // Every leaf and every container above it.
      for (json::json_pointer p(pointer); !p.empty(); p = p.parent_pointer()) places.insert(p.to_string());
    }
    for (const auto& place : places) {
      for (const json& value : bad) {
        json edited = doc;
        edited[json::json_pointer(place)] = value;
        INFO(place << " = " << value.dump());
        try {
          const scenarios::Scenario s = scenarios::parse_scenario(edited);
          CHECK(s.run.duration > 0);
          ++parsed;
        } catch (const ScenarioError& e) {
          CHECK(e.path().rfind('/', 0) == 0);
          ++rejected;
        }
      }
    }
  }
  CHECK(parsed > 0);
  CHECK(rejected > parsed);
}
