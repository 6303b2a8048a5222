// Test helpers: a minimal world built in code (no JSON) and replications summarised with 95% confidence
// intervals.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "models/config.hpp"
#include "models/results.hpp"
#include "models/world.hpp"
#include "sim/stats.hpp"
#include "sim/time.hpp"

namespace rpsim_test {

using models::ClientGroupConfig;
using models::WorldConfig;
using sim::Distribution;
using sim::Time;

inline constexpr Time kMs = sim::kMillisecond;
inline constexpr Time kUs = sim::kMicrosecond;

// Hosts "pooler" (1 core), "db" (db_cores cores, one thread each) and "client"; no network latency; every
// pooler and Postgres cost zero; limits (pool, max_client_conn, max_connections, backlog, query_wait_timeout)
// out of the way. Tests switch on what their closed form needs. One client group "a" of one client on
// "client".
inline WorldConfig minimal_world(int processes = 1, int db_cores = 8) {
  WorldConfig w;
  w.hosts = {models::HostConfig{"pooler", 0x0a000001, 1, 1},
             models::HostConfig{"db", 0x0a000002, db_cores, 1},
             models::HostConfig{"client", 0x0a000003, 1, 1}};
  w.network.latency = 0;
  w.network.loopback_latency = 0;
  w.kernel.listen_backlog = 1 << 20;
  w.pooler.host = "pooler";
  w.pooler.processes = processes;
  w.pooler.default_pool_size = 10'000;
  w.pooler.max_client_conn = 1 << 20;
  w.pooler.query_wait_timeout = 0;
  w.pooler.cpu.query = Distribution::constant(0);
  w.pooler.cpu.result = Distribution::constant(0);
  w.pooler.cpu.login = Distribution::constant(0);
  w.pooler.cpu.server_login = Distribution::constant(0);
  w.postgres.host = "db";
  w.postgres.max_connections = 1 << 20;
  w.postgres.backend_startup = Distribution::constant(0);
  w.postgres.reset_query = Distribution::constant(0);
  ClientGroupConfig g;
  g.name = "a";
  g.count = 1;
  g.hosts = {"client"};
  g.server_cpu = Distribution::constant(0);
  w.clients = {g};
  return w;
}

// An open-loop group of `clients` clients whose Poisson rates add up to total_rate per second.
inline void make_open_loop(ClientGroupConfig& g, int clients, double total_rate) {
  g.mode = models::LoopMode::kOpen;
  g.count = clients;
  g.rate = total_rate / clients;
}

struct Replications {
  sim::Summary throughput_tps;
  sim::Summary latency_mean_s;
  std::vector<models::RunResult> runs;
};

// Replications 0..n-1 of (config, seed): independent streams per replication, one Summary entry each.
inline Replications replicate(const WorldConfig& config, int n, Time warmup, Time duration,
                              std::uint64_t seed = 20261123) {
  Replications out;
  for (int r = 0; r < n; ++r) {
    models::World world(config, seed, static_cast<std::uint64_t>(r));
    models::RunResult res = world.run(warmup, duration);
    out.throughput_tps.add(res.throughput_tps);
    out.latency_mean_s.add(res.latency.mean() / 1e9);
    out.runs.push_back(std::move(res));
  }
  return out;
}

// Every figure of two runs that the same (config, seed, replication) must reproduce bit for bit (not wall
// time).
inline void check_identical(const models::RunResult& a, const models::RunResult& b) {
  CHECK(a.transactions == b.transactions);
  CHECK(a.events == b.events);
  CHECK(a.latency.count() == b.latency.count());
  CHECK(a.latency.mean() == b.latency.mean());
  CHECK(a.latency.min() == b.latency.min());
  CHECK(a.latency.max() == b.latency.max());
  for (double q : {0.5, 0.95, 0.99, 0.999}) CHECK(a.latency.quantile(q) == b.latency.quantile(q));
  CHECK(a.connections_opened == b.connections_opened);
  CHECK(a.connections_closed == b.connections_closed);
  CHECK(a.backends_mean == b.backends_mean);
  CHECK(a.postgres_utilization == b.postgres_utilization);
  REQUIRE(a.processes.size() == b.processes.size());
  for (std::size_t i = 0; i < a.processes.size(); ++i) {
    const auto& p = a.processes[i];
    const auto& q = b.processes[i];
    CHECK(p.transactions == q.transactions);
    CHECK(p.logins == q.logins);
    CHECK(p.connections_mean == q.connections_mean);
    CHECK(p.connections_max == q.connections_max);
    CHECK(p.utilization == q.utilization);
    CHECK(p.servers_mean == q.servers_mean);
    CHECK(p.in_transaction_mean == q.in_transaction_mean);
    CHECK(p.latency_mean_ms == q.latency_mean_ms);
    CHECK(p.wait_mean_ms == q.wait_mean_ms);
  }
}

}  // namespace rpsim_test
