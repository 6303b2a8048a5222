// Postgres: one backend process per server connection on the database host's CPUs, max_connections, backend
// start-up cost, per-query CPU plus non-CPU time, and server_reset_query.
#include "models/world.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace models {

int World::postgres_open_server(int p, int pool_index) {
  int s;
  if (!free_servers_.empty()) {
    s = free_servers_.back();
    free_servers_.pop_back();
  } else {
    s = static_cast<int>(servers_.size());
    servers_.emplace_back();
  }
  Server& sv = servers_[s];
  ++sv.gen;
  sv.process = p;
  sv.pool = pool_index;
  sv.client = -1;
  sv.state = ServerState::kConnecting;
  sv.has_backend = false;
  Process& proc = processes_[p];
  Pool& pool = proc.pools[pool_index];
  ++pool.total;
  ++pool.connecting;
  ++proc.db_servers[pool.database];
  proc.servers.add(sim_.now(), 1);
  send(pooler_host_, db_host_, kServerConnectArrive, server_ref(s));
  return s;
}

void World::postgres_connect_arrive(int s) {
  Server& sv = servers_[s];
  if (live_backends_ >= config_.postgres.max_connections) {
    refused_logins_.add();  // FATAL: sorry, too many clients already
    send(db_host_, pooler_host_, kServerRefusedArrive, server_ref(s));
    return;
  }
  ++live_backends_;
  backends_.set(sim_.now(), live_backends_);
  sv.has_backend = true;
  sv.last_query = backend_queries_;
  sv.state = ServerState::kLoggingIn;
  if (!sv.loop) sv.loop = std::make_unique<EventLoop>(sim_, *cpus_[db_host_], *this, std::vector<int>{});
  sv.loop->post(kWorkBackendStart, server_ref(s), config_.postgres.backend_startup.sample(startup_rng_));
}

void World::postgres_backend_started(int s) { send(db_host_, pooler_host_, kServerReadyArrive, server_ref(s)); }

void World::postgres_query_arrive(int s) {
  Server& sv = servers_[s];
  RPSIM_ASSERT(sv.client >= 0, "a query reaches a backend serving a client");
  ClientGroupState& g = groups_cfg_[clients_[sv.client].group];
  const sim::Time cpu = g.server_cpu.sample(g.rng.server_cpu) + postgres_cold_cpu(sv);
  post_work(*sv.loop, kWorkExec, server_ref(s), cpu, [&] { postgres_exec_done(s); });
}

// The reuse distance of this query (the other backends' queries since this backend's previous one) and the CPU it
// adds through PostgresConfig::cold_cpu. A count, not the distinct backends among them: equal when the backends
// take turns (a saturated pool), and O(1).
sim::Time World::postgres_cold_cpu(Server& sv) {
  const std::uint64_t distance = backend_queries_ - sv.last_query;
  sv.last_query = ++backend_queries_;
  measured_queries_.add();
  reuse_distance_sum_.add(distance);
  const auto& points = config_.postgres.cold_cpu;
  if (points.empty()) return 0;
  const auto d = static_cast<std::int64_t>(distance);
  // The first point at or beyond d; before the first or past the last, the nearest end's extra.
  const auto hi = std::lower_bound(points.begin(), points.end(), d,
                                   [](const PostgresConfig::ColdPoint& p, std::int64_t x) { return p.distance < x; });
  sim::Time extra;
  if (hi == points.begin()) {
    extra = hi->extra;
  } else if (hi == points.end()) {
    extra = points.back().extra;
  } else {
    const auto& lo = *(hi - 1);
    const long double f =
        static_cast<long double>(d - lo.distance) / static_cast<long double>(hi->distance - lo.distance);
    extra = lo.extra + static_cast<sim::Time>(std::llround(f * static_cast<long double>(hi->extra - lo.extra)));
  }
  cold_cpu_charged_ += extra;
  return extra;
}

void World::postgres_exec_done(int s) {
  Server& sv = servers_[s];
  ClientGroupState& g = groups_cfg_[clients_[sv.client].group];
  const sim::Time wait = g.config.server_wait.sample(g.rng.server_wait);
  if (wait > 0) {
    sim_.schedule_in(wait, this, kBackendWaitDone, server_ref(s));  // I/O, locks, pg_sleep: no CPU
  } else {
    postgres_respond(s);
  }
}

void World::postgres_respond(int s) { send(db_host_, pooler_host_, kResultArrive, server_ref(s)); }

void World::postgres_reset(int s) {
  Server& sv = servers_[s];
  sv.state = ServerState::kResetting;
  sv.loop->post(kWorkReset, server_ref(s), config_.postgres.reset_query.sample(reset_rng_));
}

void World::postgres_reset_done(int s) {
  servers_[s].state = ServerState::kIdle;  // the reset finished; hand it to the pool like a released one
  pooler_release(s);
}

void World::postgres_close_server(int s) {
  Server& sv = servers_[s];
  Process& proc = processes_[sv.process];
  Pool& pool = proc.pools[sv.pool];
  --pool.total;
  --proc.db_servers[pool.database];
  proc.servers.add(sim_.now(), -1);
  if (sv.has_backend) {
    --live_backends_;
    backends_.set(sim_.now(), live_backends_);
  }
  sv.has_backend = false;
  sv.state = ServerState::kClosed;
  ++sv.gen;  // anything still in flight for it is ignored
  free_servers_.push_back(s);
}

}  // namespace models
