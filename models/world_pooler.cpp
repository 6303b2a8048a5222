// The pooler processes: login, per-process pools with a FIFO wait queue, LIFO or round-robin server reuse,
// session / transaction / statement release, query_wait_timeout, the reserve pool, and restarts.
#include <algorithm>

#include "models/world.hpp"

namespace models {

void World::pooler_startup_arrive(int c) {
  processes_[clients_[c].process].loop->post(kWorkLogin, client_ref(c), login_round_cost(clients_[c].process));
}

void World::pooler_query_arrive(int c) {
  ClientGroupState& g = groups_cfg_[clients_[c].group];
  post_work(*processes_[clients_[c].process].loop, kWorkQuery, client_ref(c), g.query_cost.sample(g.rng.query) + softirq(),
            [&] { pooler_query_done(c); });
}

void World::pooler_result_arrive(int s) {
  const Server& sv = servers_[s];
  ClientGroupState& g = groups_cfg_[sv.client >= 0 ? clients_[sv.client].group : 0];
  post_work(*processes_[sv.process].loop, kWorkResult, server_ref(s), g.result_cost.sample(g.rng.result) + softirq(),
            [&] { pooler_result_done(s); });
}

void World::pooler_server_ready_arrive(int s) {
  Process& p = processes_[servers_[s].process];
  p.loop->post(kWorkServerLogin, server_ref(s), config_.pooler.cpu.server_login.sample(p.server_login_rng) + softirq());
}

bool World::pooler_login_start(int c) {
  Client& cl = clients_[c];
  if (cl.state != ClientState::kAcceptQueue) return false;  // reset while it waited in the accept queue
  Process& p = processes_[cl.process];
  --p.accept_pending;
  ++p.logging_in;
  cl.state = ClientState::kLoggingIn;
  cl.login_rounds_left = static_cast<std::uint8_t>(config_.pooler.login_round_trips);
  // accept() takes from the front; entries of connections that moved on are dropped on the way.
  while (!p.accept_queue.empty()) {
    const int f = live_client(p.accept_queue.front());
    if (f >= 0 && clients_[f].state == ClientState::kAcceptQueue && clients_[f].process == p.index) break;
    p.accept_queue.pop_front();
  }
  return true;
}

sim::Time World::login_round_cost(int process) {
  const sim::Time login = config_.pooler.cpu.login.sample(processes_[process].login_rng);
  // One draw per round keeps the mean; with a single round (the default) the draw is the whole login.
  const int rounds = config_.pooler.login_round_trips;
  return (rounds == 1 ? login : login / rounds) + softirq();
}

void World::pooler_login_response(int c) {
  processes_[clients_[c].process].loop->post(kWorkLoginStep, client_ref(c), login_round_cost(clients_[c].process));
}

void World::pooler_login_round_done(int c) {
  Client& cl = clients_[c];
  if (--cl.login_rounds_left > 0) {
    send(pooler_host_, cl.host, kLoginChallengeArrive, client_ref(c), client_wake_delay(c));
    return;
  }
  pooler_login_done(c);
}

void World::pooler_login_done(int c) {
  Client& cl = clients_[c];
  Process& p = processes_[cl.process];
  RPSIM_ASSERT(!p.exited, "a login completes only on a process that has not exited");
  --p.logging_in;
  if (p.clients >= config_.pooler.max_client_conn) {
    max_client_conn_errors_.add();  // "no more connections allowed (max_client_conn)"
    cl.state = ClientState::kClosing;
    send(pooler_host_, cl.host, kClientErrorArrive, client_ref(c));
    pooler_maybe_exit(p.index);
    return;
  }
  ++p.clients;
  ++connections_opened_;
  p.connections.set(sim_.now(), p.clients);
  p.logins.add();
  send(pooler_host_, cl.host, kLoginOkArrive, client_ref(c), client_wake_delay(c));
}

void World::pooler_query_done(int c) {
  Client& cl = clients_[c];
  if (cl.server >= 0) {
    send(pooler_host_, db_host_, kBackendQueryArrive, server_ref(cl.server));
  } else {
    pooler_acquire(c);
  }
}

bool World::pooler_can_open(const Process& proc, const Pool& pool) const {
  if (proc.exited || sim_.now() < pool.retry_after) return false;
  const int limit = config_.pooler.default_pool_size + (pool.reserve_open ? config_.pooler.reserve_pool_size : 0);
  if (pool.total >= limit) return false;
  const int max_db = config_.pooler.max_db_connections;
  return max_db <= 0 || proc.db_servers[pool.database] < max_db;
}

void World::pooler_acquire(int c) {
  Client& cl = clients_[c];
  Process& p = processes_[cl.process];
  Pool& pool = p.pools[cl.pool];
  const bool round_robin = config_.pooler.server_round_robin;
  if (round_robin ? !pool.idle_rr.empty() : !pool.idle.empty()) {
    int s;
    if (round_robin) {
      s = pool.idle_rr.front();
      pool.idle_rr.pop_front();
    } else {
      s = pool.idle.back();
      pool.idle.pop_back();
    }
    cl.wait_start = sim_.now();
    pooler_assign(c, s);
    return;
  }
  cl.waiting = true;
  cl.wait_start = sim_.now();
  pool.waiting.push_back(client_ref(c));
  ++pool.waiters;
  if (config_.pooler.query_wait_timeout > 0) {
    cl.timer = sim_.schedule_in(config_.pooler.query_wait_timeout, this, kWaitTimeout, client_ref(c));
  }
  if (config_.pooler.reserve_pool_size > 0 && !pool.reserve_open) {
    cl.reserve_timer = sim_.schedule_in(config_.pooler.reserve_pool_timeout, this, kReserveCheck, client_ref(c));
  }
  pooler_try_open(p.index, cl.pool);
}

void World::pooler_assign(int c, int s) {
  Client& cl = clients_[c];
  Server& sv = servers_[s];
  Process& p = processes_[cl.process];
  sv.client = c;
  sv.state = ServerState::kActive;
  p.servers_active.add(sim_.now(), 1);
  cl.server = s;
  if (cl.waiting) {
    cl.waiting = false;
    --p.pools[cl.pool].waiters;
    sim_.cancel(cl.timer);
    sim_.cancel(cl.reserve_timer);
  }
  if (sim_.now() >= measure_start_) p.wait.record(sim_.now() - cl.wait_start);
  send(pooler_host_, db_host_, kBackendQueryArrive, server_ref(s));
}

void World::pooler_result_done(int s) {
  Server& sv = servers_[s];
  const int c = sv.client;
  RPSIM_ASSERT(c >= 0, "a result comes from a server that serves a client");
  Client& cl = clients_[c];
  send(pooler_host_, cl.host, kClientResultArrive, client_ref(c));
  // queries_left still counts this query: the client decrements it when the result reaches it.
  const PoolMode mode = config_.pooler.pool_mode;
  const bool end_of_transaction = cl.queries_left == 1;
  if (mode == PoolMode::kStatement || (mode == PoolMode::kTransaction && end_of_transaction)) {
    cl.server = -1;
    processes_[sv.process].servers_active.add(sim_.now(), -1);
    pooler_release(s);
  }
}

void World::pooler_release(int s) {
  Server& sv = servers_[s];
  Process& p = processes_[sv.process];
  if (p.exited) {
    postgres_close_server(s);
    return;
  }
  sv.client = -1;
  sv.state = ServerState::kIdle;
  Pool& pool = p.pools[sv.pool];
  while (!pool.waiting.empty()) {
    const std::uint64_t r = pool.waiting.front();
    pool.waiting.pop_front();
    const int c = live_client(r);
    if (c >= 0 && clients_[c].waiting) {
      pooler_assign(c, s);
      return;
    }
  }
  if (config_.pooler.server_round_robin) {
    pool.idle_rr.push_back(s);
  } else {
    pool.idle.push_back(s);
  }
}

void World::pooler_try_open(int p, int pool_index) {
  Process& proc = processes_[p];
  Pool& pool = proc.pools[pool_index];
  while (pool.waiters > pool.connecting && pooler_can_open(proc, pool)) postgres_open_server(p, pool_index);
  if (pool.waiters > pool.connecting && sim_.now() < pool.retry_after && !pool.retry_scheduled) {
    pool.retry_scheduled = true;
    sim_.schedule_at(pool.retry_after, this, kPoolRetry,
                     (static_cast<std::uint64_t>(p) << 32) | static_cast<std::uint32_t>(pool_index));
  }
}

void World::pooler_server_ready(int s) {
  Server& sv = servers_[s];
  --processes_[sv.process].pools[sv.pool].connecting;
  pooler_release(s);
}

void World::pooler_server_refused(int s) {
  Server& sv = servers_[s];
  Process& p = processes_[sv.process];
  Pool& pool = p.pools[sv.pool];
  --pool.connecting;
  const int pool_index = sv.pool;
  postgres_close_server(s);
  // PgBouncer waits server_login_retry before trying this pool again; its clients keep waiting meanwhile.
  pool.retry_after = sim_.now() + config_.pooler.server_login_retry;
  pooler_try_open(p.index, pool_index);
}

void World::pooler_wait_timeout(int c) {
  Client& cl = clients_[c];
  if (!cl.waiting) return;
  Process& p = processes_[cl.process];
  query_wait_timeouts_.add();
  // The pooler answers "query_wait_timeout" and closes the client connection.
  p.in_transaction.add(sim_.now(), -1);
  pooler_client_gone(c);
  cl.state = ClientState::kClosing;
  send(pooler_host_, cl.host, kClientErrorArrive, client_ref(c));
}

void World::pooler_reserve_check(int c) {
  Client& cl = clients_[c];
  if (!cl.waiting) return;
  Process& p = processes_[cl.process];
  p.pools[cl.pool].reserve_open = true;
  pooler_try_open(p.index, cl.pool);
}

void World::pooler_remove_waiter(int c) {
  Client& cl = clients_[c];
  if (!cl.waiting) return;
  cl.waiting = false;
  --processes_[cl.process].pools[cl.pool].waiters;
  sim_.cancel(cl.timer);
  sim_.cancel(cl.reserve_timer);
}

void World::pooler_client_gone(int c) {
  Client& cl = clients_[c];
  Process& p = processes_[cl.process];
  pooler_remove_waiter(c);
  if (cl.server >= 0) {
    // Session mode: the server is cleaned with server_reset_query before anyone else gets it.
    const int s = cl.server;
    cl.server = -1;
    p.servers_active.add(sim_.now(), -1);
    servers_[s].client = -1;
    postgres_reset(s);
  }
  --p.clients;
  ++connections_closed_;
  p.connections.set(sim_.now(), p.clients);
  pooler_maybe_exit(p.index);
}

void World::pooler_restart(int restart_index) {
  const RestartConfig& r = config_.restarts[static_cast<std::size_t>(restart_index)];
  Process& p = processes_[r.process];
  if (p.draining || p.exited) return;  // one restart at a time per process
  p.draining = true;
  p.restart = restart_index;
  kernel_close_listener(r.process);
  if (r.mode == RestartMode::kDisconnect) {
    p.disconnect_clients = true;
    for (std::size_t c = 0; c < clients_.size(); ++c) {
      if (clients_[c].process == r.process && clients_[c].state == ClientState::kReady) {
        const int id = static_cast<int>(c);
        client_disconnect(id);
        schedule_reconnect(id, groups_cfg_[clients_[c].group].config.reconnect_delay.sample(groups_cfg_[clients_[c].group].rng.reconnect));
      }
    }
  } else {
    sim_.schedule_in(r.drain_timeout, this, kDrainTimeout, static_cast<std::uint64_t>(r.process));
  }
  pooler_maybe_exit(r.process);
}

void World::pooler_maybe_exit(int p) {
  Process& proc = processes_[p];
  // A login already under way when the listener closed still completes (and its client is served), so it counts.
  if (!proc.draining || proc.exited || proc.clients > 0 || proc.logging_in > 0) return;
  proc.exited = true;
  for (std::size_t s = 0; s < servers_.size(); ++s) {
    Server& sv = servers_[s];
    if (sv.process == p && sv.state == ServerState::kIdle) postgres_close_server(static_cast<int>(s));
  }
  for (Pool& pool : proc.pools) {
    pool.idle.clear();
    pool.idle_rr.clear();
    pool.waiting.clear();
    pool.waiters = 0;
    pool.reserve_open = false;
  }
  const RestartConfig& r = config_.restarts[static_cast<std::size_t>(proc.restart)];
  sim_.schedule_in(r.downtime, this, kRelisten, static_cast<std::uint64_t>(p));
}

}  // namespace models
