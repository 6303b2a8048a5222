// Tests of the world's models: logins of several round trips, connection spread against balls into bins,
// determinism and stream independence, conservation of connections, Little's law per process, and the kernel's
// and pooler's limits (the CPU model and event loops are in test_cpu.cpp). Each case states what it expects, and
// why, before asserting.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <array>
#include <cstdint>
#include <vector>

#include "models/analytic.hpp"
#include "tests/models/world_helpers.hpp"

namespace an = models::analytic;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using namespace rpsim_test;

namespace {

// A busier world than the minimal one: two processes, every cost exponential, think times, a small pool.
WorldConfig busy_world() {
  WorldConfig w = minimal_world(2, 8);
  w.hosts[0].cores = 2;
  w.pooler.default_pool_size = 4;
  w.pooler.cpu.query = Distribution::exponential(20 * kUs);
  w.pooler.cpu.result = Distribution::exponential(15 * kUs);
  w.pooler.cpu.login = Distribution::exponential(60 * kUs);
  w.pooler.cpu.server_login = Distribution::exponential(40 * kUs);
  w.network.latency = 50 * kUs;
  auto& g = w.clients[0];
  g.count = 24;
  g.think_time = Distribution::exponential(2 * kMs);
  g.server_cpu = Distribution::exponential(300 * kUs);
  g.server_wait = Distribution::exponential(500 * kUs);
  g.queries_per_transaction = 2;
  g.start = 20 * kMs;
  return w;
}

}  // namespace

namespace {
// One client that logs in once (n round trips, pooler login CPU 90 us, one way latency 100 us) and then thinks.
WorldConfig one_login(int n) {
  WorldConfig w = minimal_world(1);
  w.network.latency = 100 * kUs;
  w.pooler.cpu.login = Distribution::constant(90 * kUs);
  w.pooler.login_round_trips = n;
  w.clients[0].think_time = Distribution::constant(sim::kSecond);
  return w;
}
}  // namespace

TEST_CASE("World: a login of n round trips takes n - 1 more round trips and splits its CPU", "[world][pooler]") {
  // One client on its own host, one way latency L = 100 us, pooler login CPU 90 us, nothing else costs. The
  // SYN, the SYN-ACK and the ACK with the startup message reach the pooler after 3L; each round runs login / n
  // on the pooler's loop; between rounds the challenge and the answer cross (2L); the login's answer takes L
  // back. So connect time = 3L + 90 us + (n - 1) 2L + L: 490 us with n = 1 (trust), 890 us with n = 3 (md5
  // after a refused SSLRequest), and the pooler's CPU is 90 us either way.
  for (const int n : {1, 3}) {
    models::World world(one_login(n), 5, 0);
    const models::RunResult r = world.run(0, 100 * kMs);
    REQUIRE(r.connect_time.count() == 1);
    CHECK(r.connect_time.mean() == Approx(static_cast<double>((490 + 200 * (n - 1)) * kUs)));
    CHECK(r.processes.at(0).logins == 1);
    CHECK(r.processes.at(0).loop.cpu_seconds == Approx(90e-6));
  }
}

TEST_CASE("World: each hand-off of a login onto an idle cpu waits the host's wakeup_latency", "[world][pooler]") {
  // The same login with wakeup_latency 20 us on every host. Every message finds its receiver asleep on an idle
  // cpu: the pooler's loop for the startup message and each of the n - 1 answers (n wake-ups), the client's
  // thread for each of the n - 1 challenges and the login's answer (n wake-ups). So connect time = 490 us +
  // (n - 1) 200 us + 2n x 20 us: 530 us with n = 1, 1010 us with n = 3. The latency is charged to nobody: the
  // pooler's CPU stays 90 us.
  for (const int n : {1, 3}) {
    WorldConfig w = one_login(n);
    for (models::HostConfig& h : w.hosts) h.wakeup_latency = 20 * kUs;
    models::World world(w, 5, 0);
    const models::RunResult r = world.run(0, 100 * kMs);
    REQUIRE(r.connect_time.count() == 1);
    CHECK(r.connect_time.mean() == Approx(static_cast<double>((490 + 200 * (n - 1) + 40 * n) * kUs)));
    CHECK(r.processes.at(0).loop.cpu_seconds == Approx(90e-6));
  }
}

// ===========================================================================================================
// Connection spread
// ===========================================================================================================

namespace {

// Per replication: clients logged in to each process after the connection phase (zero costs and latency, so
// every connection is made at t = 0; 1 ms is plenty). Think time 1 s so no transaction runs in that
// millisecond.
std::vector<std::vector<std::uint64_t>> spread(int connections, int processes, int replications) {
  WorldConfig w = minimal_world(processes);
  w.clients[0].count = connections;
  w.clients[0].think_time = Distribution::constant(sim::kSecond);
  std::vector<std::vector<std::uint64_t>> out;
  for (int r = 0; r < replications; ++r) {
    models::World world(w, 777, static_cast<std::uint64_t>(r));
    const models::RunResult res = world.run(0, 1 * kMs);
    std::vector<std::uint64_t> per;
    std::uint64_t total = 0;
    for (const auto& p : res.processes) {
      per.push_back(p.logins);
      total += p.logins;
    }
    REQUIRE(total == static_cast<std::uint64_t>(connections));
    out.push_back(std::move(per));
  }
  return out;
}

}  // namespace

TEST_CASE("Spread: 8 persistent clients over 2 processes match Binomial(8, 1/2)", "[world][spread]") {
  // Hash steering with a random secret per replication makes each connection's process a fair coin,
  // independent of the others. The smaller side's count k = 0..4 then has the folded Binomial(8, 1/2) law:
  // P(k) = 2 C(8, k) / 256 for k < 4 and C(8, 4) / 256 = 70/256 for k = 4, i.e. 2, 16, 56, 112, 70 in 256.
  // Over 1000 replications (expected counts 7.8, 62.5, 218.8, 437.5, 273.4), Pearson's chi-square with 4
  // degrees of freedom must not reject at the 1% level: p >= 0.01.
  const int reps = 1000;
  const auto runs = spread(8, 2, reps);
  std::array<double, 5> observed{};
  for (const auto& per : runs) observed[std::min(per[0], per[1])] += 1;
  std::array<double, 5> expected{};
  for (int k = 0; k <= 4; ++k) expected[k] = reps * an::binomial_pmf(k, 8, 0.5) * (k < 4 ? 2 : 1);
  const double p = an::chi_square_p_value(observed, expected);
  INFO("observed " << observed[0] << " " << observed[1] << " " << observed[2] << " " << observed[3] << " "
                   << observed[4] << "; p = " << p);
  CHECK(p >= 0.01);
}

TEST_CASE("Spread: the expected busiest process matches balls into bins", "[world][spread]") {
  // m connections hashed onto n processes are m balls thrown into n bins; E[max load] is exact in
  // analytic::expected_max_load: (100, 4) -> 30.233, (64, 8) -> 12.235, (32, 4) -> 10.994. The Monte Carlo
  // mean of the busiest process's logins over 4000 replications (a CI of about +-0.05, so a bias of half a
  // percent shows) must hold it inside its 95% CI.
  struct Case {
    int m, n;
  };
  const Case k = GENERATE(Case{100, 4}, Case{64, 8}, Case{32, 4});
  sim::Summary max_load;
  for (const auto& per : spread(k.m, k.n, 4000)) {
    max_load.add(static_cast<double>(*std::max_element(per.begin(), per.end())));
  }
  const double expected = an::expected_max_load(k.m, k.n);
  INFO("(" << k.m << ", " << k.n << "): simulated " << max_load.mean() << " +- " << max_load.ci95()
           << ", exact " << expected);
  CHECK_THAT(expected, WithinAbs(max_load.mean(), max_load.ci95()));
}

// ===========================================================================================================
// Determinism and independence
// ===========================================================================================================

TEST_CASE("Determinism: the same (config, seed, replication) gives identical results",
          "[world][determinism]") {
  // Everything random is drawn from streams derived from (seed, replication, name), and ties run in
  // scheduling order, so two worlds built from the same triple produce the same figures bit for bit; a
  // different replication index gives different ones (else the comparison would prove nothing).
  WorldConfig w = busy_world();
  w.clients[0].lifetime = Distribution::exponential(200 * kMs);
  ClientGroupConfig open = w.clients[0];
  open.name = "open";
  make_open_loop(open, 10, 300);
  w.clients.push_back(open);
  models::World a(w, 42, 3), b(w, 42, 3), c(w, 42, 4);
  const models::RunResult ra = a.run(100 * kMs, 2 * sim::kSecond);
  const models::RunResult rb = b.run(100 * kMs, 2 * sim::kSecond);
  const models::RunResult rc = c.run(100 * kMs, 2 * sim::kSecond);
  REQUIRE(ra.transactions > 1000);
  check_identical(ra, rb);
  CHECK(ra.latency.mean() != rc.latency.mean());
  CHECK(ra.events != rc.events);
}

TEST_CASE("Independence: a second group on its own host and database leaves the first group's figures alone",
          "[world][determinism]") {
  // Group "a" alone, then the same world plus group "b": 10 clients on their own host "client2" and database
  // "other", connecting during the measured window (start spread over 500 ms), each running one query whose
  // server_wait (1000 s) outlasts the run, so b completes no transaction. b draws from its own streams (its
  // start times, its server_cpu), its ports come from its own host's stream, its pool is separate, and every
  // pooler and Postgres cost is a constant (no draws from shared streams) and zero (no CPU contention on the
  // pooler); the db host has 64 single-thread cores, so a's backends always find a free core and run at full
  // speed. Expected: a's transactions, latencies and per-process figures identical to the last bit.
  WorldConfig wa = minimal_world(2, 64);
  auto& g = wa.clients[0];
  g.count = 20;
  g.think_time = Distribution::exponential(2 * kMs);
  g.server_cpu = Distribution::exponential(300 * kUs);
  g.server_wait = Distribution::exponential(1 * kMs);
  WorldConfig wb = wa;
  wb.hosts.push_back(models::HostConfig{"client2", 0x0a000004, 1, 1});
  ClientGroupConfig b;
  b.name = "b";
  b.count = 10;
  b.hosts = {"client2"};
  b.database = "other";
  b.start = 500 * kMs;
  b.server_cpu = Distribution::exponential(1 * kMs);
  b.server_wait = Distribution::constant(1000 * sim::kSecond);
  wb.clients.push_back(b);

  models::World a(wa, 9, 0), ab(wb, 9, 0);
  const models::RunResult ra = a.run(100 * kMs, 2 * sim::kSecond);
  const models::RunResult rab = ab.run(100 * kMs, 2 * sim::kSecond);
  // b really ran beside a: its 10 clients logged in during the window and its servers were opened.
  REQUIRE(rab.connections_opened == ra.connections_opened + 10);
  REQUIRE(rab.backends_max >= ra.backends_max + 10);
  REQUIRE(ra.transactions > 1000);

  CHECK(ra.transactions == rab.transactions);
  CHECK(ra.latency.mean() == rab.latency.mean());
  CHECK(ra.latency.max() == rab.latency.max());
  for (double q : {0.5, 0.99, 0.999}) CHECK(ra.latency.quantile(q) == rab.latency.quantile(q));
  for (std::size_t i = 0; i < ra.processes.size(); ++i) {
    CHECK(ra.processes[i].transactions == rab.processes[i].transactions);
    CHECK(ra.processes[i].latency_mean_ms == rab.processes[i].latency_mean_ms);
  }
}

// ===========================================================================================================
// Conservation and Little's law
// ===========================================================================================================

TEST_CASE("Conservation: connections opened = closed + open at end, with churn and restarts",
          "[world][conservation]") {
  // Every client connection the pooler accepted (logged in) is either closed by the end or still open: no
  // path (per-transaction connections, lifetimes, query_wait_timeout, restarts that drain or disconnect)
  // loses or double-counts one. Each world must also have churned (opened well above its client count) to
  // mean anything.
  WorldConfig w = busy_world();
  std::string kind = GENERATE(as<std::string>{}, "per_transaction", "lifetimes", "wait_timeouts", "restarts");
  auto& g = w.clients[0];
  g.reconnect_delay = Distribution::exponential(1 * kMs);
  if (kind == "per_transaction") {
    g.connection = models::ConnectionMode::kPerTransaction;
  } else if (kind == "lifetimes") {
    g.lifetime = Distribution::exponential(50 * kMs);
  } else if (kind == "wait_timeouts") {
    w.pooler.default_pool_size = 1;
    g.server_wait = Distribution::exponential(5 * kMs);
    w.pooler.query_wait_timeout = 10 * kMs;
  } else {
    g.lifetime = Distribution::exponential(300 * kMs);
    w.restarts = {
        models::RestartConfig{500 * kMs, 0, models::RestartMode::kWaitForClients, 100 * kMs, 200 * kMs},
        models::RestartConfig{1200 * kMs, 1, models::RestartMode::kDisconnect, 50 * kMs, 0}};
    w.timeseries_interval = 5 * kMs;
  }
  models::World world(w, 5, 0);
  const models::RunResult r = world.run(100 * kMs, 2 * sim::kSecond);
  INFO(kind << ": opened " << r.connections_opened << ", closed " << r.connections_closed << ", open at end "
            << r.connections_open_at_end << ", timeouts " << r.query_wait_timeouts);
  CHECK(r.connections_opened > 3u * static_cast<unsigned>(g.count));
  if (kind == "wait_timeouts") CHECK(r.query_wait_timeouts > 0);
  if (kind == "restarts") {
    // Both restarts really happened: each process was seen empty after its restart began, and serving again
    // later.
    for (int p = 0; p < 2; ++p) {
      const double at = p == 0 ? 0.5 : 1.2;
      double emptied = -1, back = -1;
      for (const auto& row : r.timeseries) {
        if (row.process != p || row.time_s < at) continue;
        if (emptied < 0 && row.connections == 0) emptied = row.time_s;
        if (emptied >= 0 && back < 0 && row.connections > 0) back = row.time_s;
      }
      INFO("process " << p << " empty at " << emptied << " s, serving again at " << back << " s");
      CHECK(emptied > 0);
      CHECK(back > emptied);
    }
  }
  CHECK(r.connections_opened == r.connections_closed + r.connections_open_at_end);
}

TEST_CASE("Little's law on every process", "[world][little]") {
  // For each process, the time-average number of its clients inside a transaction L, its throughput X and its
  // clients' mean transaction latency W (all from the end of the warm-up) obey L = X W; only transactions
  // that straddle the window's ends break it, so within 2% over a 10 s window of millisecond transactions.
  WorldConfig w = busy_world();
  w.pooler.processes = 3;
  const bool open = GENERATE(false, true);
  if (open) make_open_loop(w.clients[0], 60, 2500);
  models::World world(w, 11, 0);
  const models::RunResult r = world.run(200 * kMs, 10 * sim::kSecond);
  for (const auto& p : r.processes) {
    const double xw = p.throughput_tps * p.latency_mean_ms / 1000;
    INFO((open ? "open" : "closed") << " loop, process " << p.index << ": L = " << p.in_transaction_mean
                                    << ", X W = " << xw << " (X " << p.throughput_tps << "/s)");
    REQUIRE(p.transactions > 1000);
    CHECK_THAT(p.in_transaction_mean, WithinRel(xw, 0.02));
  }
}

// ===========================================================================================================
// Kernel and pooler behaviours
// ===========================================================================================================

namespace {

// Per-transaction connections from 40 zero-think clients against two processes whose login costs 200 us: the
// pooler is saturated with logins, so its accept queues are never empty. Process 0 restarts at 300 ms.
WorldConfig churn_restart_world(bool migrate) {
  WorldConfig w = minimal_world(2);
  w.hosts[0].cores = 2;
  w.pooler.cpu.login = Distribution::exponential(200 * kUs);
  w.pooler.cpu.query = Distribution::constant(10 * kUs);
  w.kernel.listen_backlog = 128;
  w.kernel.tcp_migrate_req = migrate;
  auto& g = w.clients[0];
  g.count = 40;
  g.connection = models::ConnectionMode::kPerTransaction;
  g.server_cpu = Distribution::exponential(100 * kUs);
  g.reconnect_delay = Distribution::constant(1 * kMs);
  w.restarts = {
      models::RestartConfig{300 * kMs, 0, models::RestartMode::kWaitForClients, 100 * kMs, 1 * sim::kSecond}};
  return w;
}

}  // namespace

TEST_CASE("Kernel: a closing listener's accept queue is reset, or migrated with tcp_migrate_req",
          "[world][kernel]") {
  // Without tcp_migrate_req, the connections waiting in the restarting process's accept queue are reset when
  // its listener closes: accept_queue_resets > 0 and nothing migrated. With it, each moves to a live listener
  // of the group: migrated > 0 and no reset.
  const models::RunResult reset =
      models::World(churn_restart_world(false), 3, 0).run(100 * kMs, 1 * sim::kSecond);
  const models::RunResult migrate =
      models::World(churn_restart_world(true), 3, 0).run(100 * kMs, 1 * sim::kSecond);
  INFO("without: resets " << reset.accept_queue_resets << ", migrated " << reset.migrated << "; with: resets "
                          << migrate.accept_queue_resets << ", migrated " << migrate.migrated);
  CHECK(reset.accept_queue_resets > 0);
  CHECK(reset.migrated == 0);
  CHECK(migrate.accept_queue_resets == 0);
  CHECK(migrate.migrated > 0);
}

TEST_CASE("Kernel: a full listen backlog drops SYNs", "[world][kernel]") {
  // 50 persistent clients connect at t = 0 to one process whose logins cost 100 us each. With listen_backlog
  // 1, all but the first SYN find the accept queue full and are dropped (to be retransmitted after 1 s):
  // syn_drops > 0. With the default backlog of 128 the same burst fits: no drop, all 50 logged in.
  WorldConfig w = minimal_world(1);
  w.pooler.cpu.login = Distribution::constant(100 * kUs);
  w.clients[0].count = 50;
  w.clients[0].think_time = Distribution::constant(10 * kMs);
  w.kernel.listen_backlog = 1;
  const models::RunResult small = models::World(w, 1, 0).run(0, 100 * kMs);
  w.kernel.listen_backlog = 128;
  const models::RunResult large = models::World(w, 1, 0).run(0, 100 * kMs);
  INFO("backlog 1: drops " << small.syn_drops << ", logins " << small.processes[0].logins
                           << "; backlog 128: drops " << large.syn_drops << ", logins "
                           << large.processes[0].logins);
  CHECK(small.syn_drops > 0);
  CHECK(small.processes[0].logins < 50);
  CHECK(large.syn_drops == 0);
  CHECK(large.processes[0].logins == 50);
}

TEST_CASE("Pooler: max_client_conn turns away clients beyond it", "[world][pooler]") {
  // One process with max_client_conn 10 and 20 persistent clients: 10 log in, the others get the error
  // (and retry every 50 ms): max_client_conn_errors > 0 and never more than 10 connected. With 20 allowed,
  // none.
  WorldConfig w = minimal_world(1);
  w.pooler.cpu.login = Distribution::constant(50 * kUs);
  w.pooler.max_client_conn = 10;
  w.clients[0].count = 20;
  w.clients[0].think_time = Distribution::constant(5 * kMs);
  w.clients[0].reconnect_delay = Distribution::constant(50 * kMs);
  const models::RunResult capped = models::World(w, 1, 0).run(0, 1 * sim::kSecond);
  w.pooler.max_client_conn = 20;
  const models::RunResult open = models::World(w, 1, 0).run(0, 1 * sim::kSecond);
  INFO("errors " << capped.max_client_conn_errors << ", max connected "
                 << capped.processes[0].connections_max);
  CHECK(capped.max_client_conn_errors > 0);
  CHECK(capped.processes[0].connections_max == 10);
  CHECK(open.max_client_conn_errors == 0);
  CHECK(open.processes[0].connections_max == 20);
}

TEST_CASE("Pooler: query_wait_timeout errors with a tiny pool and long server waits", "[world][pooler]") {
  // One server connection, 10 clients whose queries hold it 100 ms each: a client queued behind two others
  // waits at least 200 ms, past query_wait_timeout = 150 ms, and is sent away with an error. With the timeout
  // off (0), clients wait as long as it takes: no error.
  WorldConfig w = minimal_world(1);
  w.pooler.default_pool_size = 1;
  w.pooler.query_wait_timeout = 150 * kMs;
  w.clients[0].count = 10;
  w.clients[0].server_wait = Distribution::constant(100 * kMs);
  w.clients[0].reconnect_delay = Distribution::constant(10 * kMs);
  const models::RunResult timed = models::World(w, 1, 0).run(0, 2 * sim::kSecond);
  w.pooler.query_wait_timeout = 0;
  const models::RunResult patient = models::World(w, 1, 0).run(0, 2 * sim::kSecond);
  INFO("timeouts " << timed.query_wait_timeouts << " with 150 ms, " << patient.query_wait_timeouts
                   << " with none");
  CHECK(timed.query_wait_timeouts > 0);
  CHECK(patient.query_wait_timeouts == 0);
  CHECK(patient.processes[0].servers_max == 1);
}

TEST_CASE("Pooler: max_db_connections caps server connections per process", "[world][pooler]") {
  // Two processes, pool size 10, 40 clients whose queries hold a server 10 ms: each process wants all 10
  // servers. max_db_connections = 3 caps each at 3 (6 backends in all); without it each reaches 10.
  WorldConfig w = minimal_world(2);
  w.pooler.default_pool_size = 10;
  w.pooler.max_db_connections = 3;
  w.clients[0].count = 40;
  w.clients[0].server_wait = Distribution::constant(10 * kMs);
  const models::RunResult capped = models::World(w, 1, 0).run(0, 500 * kMs);
  w.pooler.max_db_connections = 0;
  const models::RunResult free = models::World(w, 1, 0).run(0, 500 * kMs);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(capped.processes[i].servers_max == 3);
    CHECK(free.processes[i].servers_max == 10);
  }
  CHECK(capped.backends_max == 6);
  CHECK(free.backends_max == 20);
}

TEST_CASE("Pooler: N processes hold up to N x pool_size server connections", "[world][pooler]") {
  // Each process has its own pool: 4 processes with default_pool_size 5 under 80 clients that each hold a
  // server 20 ms open 5 servers each, 20 backends in all: what a planner who sized the pool for one process
  // would not expect from Postgres.
  WorldConfig w = minimal_world(4);
  w.pooler.default_pool_size = 5;
  w.clients[0].count = 80;
  w.clients[0].server_wait = Distribution::constant(20 * kMs);
  const models::RunResult r = models::World(w, 1, 0).run(0, 500 * kMs);
  double total = 0;
  for (const auto& p : r.processes) {
    CHECK(p.servers_max == 5);
    total += p.servers_max;
  }
  CHECK(total == 4 * 5);
  CHECK(r.backends_max == 4 * 5);
}

TEST_CASE("Postgres: a query pays cold_cpu at its reuse distance, interpolated and clamped", "[world][postgres]") {
  // One client, a transaction every 1 ms, Postgres 100 us of CPU on an idle 8-core host, min_pool_size B servers
  // opened at once and handed out round robin: each server serves every B-th query, so every query's reuse
  // distance (other backends' queries since its backend's previous one) is exactly B - 1. With cold_cpu points
  // (2, 10 us) and (6, 30 us): B = 1 gives distance 0, below the first point: 10 us; B = 5, distance 4, halfway
  // between the points: 20 us; B = 10, distance 9, beyond the last point: 30 us. Postgres's CPU per query is
  // 100 us plus that.
  for (const auto& [servers, extra] : {std::pair{1, 10 * kUs}, std::pair{5, 20 * kUs}, std::pair{10, 30 * kUs}}) {
    WorldConfig w = minimal_world();
    w.pooler.server_round_robin = true;
    w.pooler.min_pool_size = servers;
    w.clients[0].think_time = Distribution::constant(kMs);
    w.clients[0].server_cpu = Distribution::constant(100 * kUs);
    w.postgres.cold_cpu = {{2, 10 * kUs}, {6, 30 * kUs}};
    const models::RunResult r = models::World(w, 1, 0).run(50 * kMs, 500 * kMs);
    const auto n = static_cast<double>(r.postgres_queries);
    REQUIRE(n > 400);
    CHECK(r.postgres_reuse_distance_mean == Approx(servers - 1));
    CHECK(r.postgres_cold_cpu_seconds / n == Approx(sim::to_seconds(extra)));
    // (0.5 %: work in flight at the window's edges)
    CHECK(r.backend_loops.cpu_seconds / n == Approx(sim::to_seconds(100 * kUs + extra)).epsilon(0.005));
  }
}

TEST_CASE("Postgres: LIFO reuse keeps a lightly loaded pool's backends warm", "[world][postgres]") {
  // The same client with 5 servers open: PgBouncer's default LIFO reuse gives the single client the server it
  // released last, so every query's reuse distance is 0 and cold_cpu's first point applies; round robin cycles
  // through all 5, distance 4. Without cold_cpu the distances are reported all the same and cost nothing.
  for (const bool round_robin : {false, true}) {
    for (const bool cold : {false, true}) {
      WorldConfig w = minimal_world();
      w.pooler.server_round_robin = round_robin;
      w.pooler.min_pool_size = 5;
      w.clients[0].think_time = Distribution::constant(kMs);
      w.clients[0].server_cpu = Distribution::constant(100 * kUs);
      if (cold) w.postgres.cold_cpu = {{0, 0}, {4, 8 * kUs}};
      const models::RunResult r = models::World(w, 1, 0).run(50 * kMs, 500 * kMs);
      const auto n = static_cast<double>(r.postgres_queries);
      REQUIRE(n > 400);
      const double distance = round_robin ? 4 : 0;
      CHECK(r.postgres_reuse_distance_mean == Approx(distance));
      const Time extra = cold && round_robin ? 8 * kUs : 0;
      // (0.5 %: work in flight at the window's edges)
    CHECK(r.backend_loops.cpu_seconds / n == Approx(sim::to_seconds(100 * kUs + extra)).epsilon(0.005));
    }
  }
}

TEST_CASE("Postgres: a saturated pool of B servers gives every query a reuse distance of B - 1", "[world][postgres]") {
  // 4 servers, 8 clients without think time, Postgres a pure 1 ms wait: every millisecond the 4 servers answer
  // in the order they were given queries and go straight to the 4 waiting clients in that order, so each serves
  // every 4th query whatever the reuse order: distance 3, LIFO or round robin.
  for (const bool round_robin : {false, true}) {
    WorldConfig w = minimal_world();
    w.pooler.server_round_robin = round_robin;
    w.pooler.default_pool_size = 4;
    w.clients[0].count = 8;
    w.clients[0].server_wait = Distribution::constant(kMs);
    const models::RunResult r = models::World(w, 1, 0).run(50 * kMs, 500 * kMs);
    REQUIRE(r.postgres_queries > 1000);
    CHECK(r.postgres_reuse_distance_mean == Approx(3.0));
  }
}

TEST_CASE("each distribution draws from its own stream", "[world][streams]") {
  // Expected: identical results. uniform(0, 0) yields the same values as constant(0) but draws one number per
  // sample where constant draws none; with one stream per distribution, the extra draws shift no other sequence.
  // (With the pooler's costs sharing one stream per process, this change moved transactions from 12215 to 12229.)
  WorldConfig base = rpsim_test::minimal_world(2);
  base.pooler.pool_mode = models::PoolMode::kSession;
  ClientGroupConfig& g = base.clients[0];
  g.count = 20;
  g.think_time = Distribution::exponential(2 * kMs);
  g.server_cpu = Distribution::exponential(300 * kUs);
  g.lifetime = Distribution::exponential(50 * kMs);
  base.pooler.cpu.query = Distribution::exponential(20 * kUs);
  base.pooler.cpu.result = Distribution::exponential(20 * kUs);
  const auto reference = models::World(base, 5, 0).run(100 * kMs, 1000 * kMs);
  REQUIRE(reference.transactions > 1000);
  REQUIRE(reference.connections_opened > 100);  // lifetimes make logins, server logins and resets happen

  for (int which = 0; which < 4; ++which) {
    WorldConfig changed = base;
    const auto zero_with_draws = Distribution::uniform(0, 0);
    if (which == 0) changed.pooler.cpu.server_login = zero_with_draws;
    if (which == 1) changed.pooler.cpu.login = zero_with_draws;
    if (which == 2) changed.postgres.reset_query = zero_with_draws;
    if (which == 3) changed.postgres.backend_startup = zero_with_draws;
    INFO("changed distribution " << which);
    rpsim_test::check_identical(reference, models::World(changed, 5, 0).run(100 * kMs, 1000 * kMs));
  }
}

TEST_CASE("a restarting process waits for logins already under way", "[world][restart]") {
  // Slow logins (exponential, mean 3 ms) under churn make it likely that a login is running when the listener
  // closes. Such a login completes and its client is served, so the process may exit only after it: otherwise
  // the invariant in pooler_login_done ("a login completes only on a process that has not exited") aborts.
  // Expected: both restart modes run to the end, every restart happens, and connections are conserved.
  for (auto mode : {models::RestartMode::kWaitForClients, models::RestartMode::kDisconnect}) {
    WorldConfig w = rpsim_test::minimal_world(3);
    w.kernel.tw_reuse = true;
    w.pooler.cpu.login = Distribution::exponential(3 * kMs);
    ClientGroupConfig& g = w.clients[0];
    g.count = 60;
    g.connection = models::ConnectionMode::kPerTransaction;
    g.think_time = Distribution::exponential(5 * kMs);
    g.server_cpu = Distribution::exponential(100 * kUs);
    for (int k = 0; k < 12; ++k) {
      models::RestartConfig r;
      r.at = 200 * kMs + k * 150 * kMs;
      r.process = k % 3;
      r.mode = mode;
      r.downtime = 20 * kMs;
      r.drain_timeout = 50 * kMs;
      w.restarts.push_back(r);
    }
    const auto res = models::World(w, 9, 0).run(0, 2200 * kMs);
    // Logins bound the throughput: 3 processes at ~333 logins/s each, less the restarts' downtime and drains,
    // so well under 2,200 in 2.2 s (722 at this seed); > 300 only shows the world did real work.
    REQUIRE(res.transactions > 300);
    REQUIRE(res.connections_opened == res.connections_closed + res.connections_open_at_end);
  }
}
