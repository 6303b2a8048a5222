// Building the world from its config, dispatching events and work items, and collecting the statistics.
#include "models/world.hpp"

#include <algorithm>
#include <chrono>

namespace models {

namespace {
int host_index(const WorldConfig& config, const std::string& name) {
  for (std::size_t i = 0; i < config.hosts.size(); ++i) {
    if (config.hosts[i].name == name) return static_cast<int>(i);
  }
  RPSIM_ASSERT(false, "a host named in the config does not exist (the scenario layer validates this)");
  return -1;
}

// Adds what one event loop did since the last reset to a set's totals.
void add_loop(LoopTotals& totals, const EventLoop& loop, sim::Time now) {
  totals.cpu_seconds += loop.cpu_seconds();
  totals.wakeups += loop.wakeups();
  totals.idle_wakeups += loop.idle_wakeups();
  totals.ipi_wakeups += loop.ipi_wakeups();
  totals.cross_cpu_messages += loop.cross_cpu_messages();
  totals.preemptions += loop.preemptions();
  totals.run_delay_seconds += loop.run_delay_seconds(now);
}
}  // namespace

World::World(const WorldConfig& config, std::uint64_t seed, std::uint64_t replication)
    : config_(config),
      seed_(seed),
      replication_(replication),
      kernel_rng_(seed, replication, "kernel"),
      service_rng_(seed, replication, "kernel.service"),
      startup_rng_(seed, replication, "postgres.backend_startup"),
      reset_rng_(seed, replication, "postgres.reset_query") {
  RPSIM_ASSERT(!config.hosts.empty(), "a world needs hosts");
  for (const HostConfig& h : config.hosts) cpus_.push_back(std::make_unique<Cpu>(sim_, h));
  pooler_host_ = host_index(config, config.pooler.host);
  db_host_ = host_index(config, config.postgres.host);

  // The kernel's secret is random per boot and netns; a fixed one reproduces one machine's mapping.
  hash_secret_ = config.kernel.hash_secret ? *config.kernel.hash_secret : kernel_rng_.next_u32();
  rss_secret_ = kernel_rng_.next_u32();

  // Pools: one per (database, user) pair, in the order client groups name them.
  for (const ClientGroupConfig& g : config.clients) {
    std::pair<std::string, std::string> key{g.database, g.user};
    if (std::find(pool_keys_.begin(), pool_keys_.end(), key) == pool_keys_.end()) pool_keys_.push_back(key);
    if (std::find(databases_.begin(), databases_.end(), g.database) == databases_.end()) {
      databases_.push_back(g.database);
    }
  }

  // Pooler processes, listening in start order: process k of pod p is global index p * processes + k.
  const int per_pod = config.pooler.processes;
  const int total = per_pod * config.pooler.pods;
  groups_.resize(static_cast<std::size_t>(config.pooler.pods));
  processes_.resize(static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) {
    Process& p = processes_[i];
    p.index = i;
    p.pod = i / per_pod;
    if (!config.pooler.pinning.empty()) p.cpus = config.pooler.pinning[static_cast<std::size_t>(i % per_pod)];
    p.incoming_cpu = p.cpus.empty() ? -1 : p.cpus.front();
    p.loop = std::make_unique<EventLoop>(sim_, *cpus_[pooler_host_], *this, p.cpus);
    p.loop->set_wakeup_cost(config.pooler.cpu.wakeup);
    p.login_rng = sim::RandomStream(seed, replication, "pooler." + std::to_string(i) + ".login");
    p.server_login_rng = sim::RandomStream(seed, replication, "pooler." + std::to_string(i) + ".server_login");
    p.pools.resize(pool_keys_.size());
    for (std::size_t k = 0; k < pool_keys_.size(); ++k) {
      p.pools[k].database = static_cast<int>(
          std::find(databases_.begin(), databases_.end(), pool_keys_[k].first) - databases_.begin());
    }
    p.db_servers.assign(databases_.size(), 0);
    groups_[p.pod].listen(i);
  }

  // Client event loops (like pgbench -j threads) per group and host, then the clients spread over hosts.
  int total_clients = 0;
  for (const ClientGroupConfig& g : config.clients) total_clients += g.count;
  clients_.reserve(static_cast<std::size_t>(total_clients));  // no regrowth copies (at 1M clients, ~128 MB each)
  std::vector<int> persistent_order;
  for (std::size_t g = 0; g < config.clients.size(); ++g) {
    const ClientGroupConfig& gc = config.clients[g];
    ClientGroupState st{gc, GroupStreams(seed, replication, "clients." + std::to_string(g) + "." + gc.name),
                        config.pooler.cpu.query.scaled(gc.weight), config.pooler.cpu.result.scaled(gc.weight),
                        gc.server_cpu.scaled(gc.weight), gc.send_cpu.is_zero()};
    groups_cfg_.push_back(std::move(st));
    std::vector<int> hosts;
    for (const std::string& h : gc.hosts) hosts.push_back(host_index(config, h));
    for (int h : hosts) {
      client_loop_base_.push_back(static_cast<int>(client_loops_.size()));
      for (int t = 0; t < gc.client_threads; ++t) {
        client_loops_.push_back(std::make_unique<EventLoop>(sim_, *cpus_[h], *this, std::vector<int>{}));
        client_loops_.back()->set_wakeup_cost(gc.wakeup);
      }
    }
    const int base_index = static_cast<int>(client_loop_base_.size() - hosts.size());
    const int pool = static_cast<int>(std::find(pool_keys_.begin(), pool_keys_.end(),
                                                std::pair<std::string, std::string>{gc.database, gc.user}) -
                                      pool_keys_.begin());
    for (int i = 0; i < gc.count; ++i) {
      Client c;
      c.group = static_cast<int>(g);
      const int hi = i % static_cast<int>(hosts.size());
      c.host = hosts[hi];
      c.thread = client_loop_base_[base_index + hi] + (i / static_cast<int>(hosts.size())) % gc.client_threads;
      c.pool = pool;
      c.addr = config.hosts[c.host].address;
      if (gc.connection == ConnectionMode::kPersistent) persistent_order.push_back(static_cast<int>(clients_.size()));
      clients_.push_back(c);
    }
  }
  // A given assignment pins the first persistent clients to processes in order: a[0] to process 0, and so on.
  std::size_t next = 0;
  for (std::size_t p = 0; p < config.assignment.size(); ++p) {
    for (int k = 0; k < config.assignment[p] && next < persistent_order.size(); ++k) {
      Client& c = clients_[persistent_order[next++]];
      c.assigned = true;
      c.assigned_process = static_cast<int>(p);
    }
  }

  for (std::size_t h = 0; h < config.hosts.size(); ++h) {
    port_rngs_.emplace_back(seed, replication, "ports." + config.hosts[h].name);
  }
  ports_.reserve(config.hosts.size());
  for (std::size_t h = 0; h < config.hosts.size(); ++h) {
    EphemeralPortsConfig pc;
    pc.low = static_cast<std::uint16_t>(config.kernel.port_range_low);
    pc.high = static_cast<std::uint16_t>(config.kernel.port_range_high);
    pc.tw_reuse = config.kernel.tw_reuse ? TwReuse::kOn : TwReuse::kLoopbackOnly;
    ports_.emplace_back(port_rngs_[h], pc);
  }
  restart_started_.assign(config.restarts.size(), -1);
}

World::~World() = default;

RunResult World::run(sim::Time warmup, sim::Time duration, const std::atomic<bool>* cancel) {
  const auto wall_start = std::chrono::steady_clock::now();
  measure_start_ = warmup;
  end_time_ = warmup + duration;

  // Clients start spread uniformly over their group's start window, in a random order per group.
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    ClientGroupState& g = groups_cfg_[clients_[c].group];
    const sim::Time at = g.config.start > 0 ? static_cast<sim::Time>(g.rng.start.uniform() * g.config.start) : 0;
    clients_[c].timer = sim_.schedule_at(at, this, kClientStart, client_ref(static_cast<int>(c)));
  }
  for (Process& p : processes_) {
    for (std::size_t k = 0; k < p.pools.size(); ++k) {
      for (int i = 0; i < config_.pooler.min_pool_size; ++i) {
        if (pooler_can_open(p, p.pools[k])) postgres_open_server(p.index, static_cast<int>(k));
      }
    }
  }
  for (std::size_t i = 0; i < config_.restarts.size(); ++i) {
    sim_.schedule_at(config_.restarts[i].at, this, kRestart, i);
  }
  sim_.schedule_at(warmup, this, kWarmupEnd, 0);
  if (config_.timeseries_interval > 0) sim_.schedule_at(warmup + config_.timeseries_interval, this, kSample, 0);

  // In slices, so another thread can follow the progress and a cancel lands soon; slicing does not change which
  // events run. 10,000 slices: a cancel waits at most 0.01 % of the run (with 100, a sanitized build took 25-35 s
  // to notice a SIGINT), and the slices cost nothing next to the events.
  constexpr int kSlices = 10'000;
  for (int i = 1; i <= kSlices; ++i) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) break;
    sim_.run_until(end_time_ / kSlices * i + (i == kSlices ? end_time_ % kSlices : 0));
    progress_.store(static_cast<double>(i) / kSlices, std::memory_order_relaxed);
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return collect(wall);
}

void World::handle_event(std::uint32_t kind, std::uint64_t arg) {
  switch (static_cast<Event>(kind)) {
    case kClientStart:
      if (int c = live_client(arg); c >= 0) client_start(c);
      break;
    case kSynArrive:
      if (int c = live_client(arg); c >= 0) kernel_syn_arrive(c);
      break;
    case kStartupArrive:
      if (int c = live_client(arg); c >= 0 && clients_[c].state == ClientState::kAcceptQueue) pooler_startup_arrive(c);
      break;
    case kSynRetry:
      if (int c = live_client(arg); c >= 0) kernel_connect(c);
      break;
    case kConnectFailed:
      if (int c = live_client(arg); c >= 0) client_error(c, true);
      break;
    case kQueryArrive:
      if (int c = live_client(arg); c >= 0) pooler_query_arrive(c);
      break;
    case kBackendQueryArrive:
      if (int s = live_server(arg); s >= 0) postgres_query_arrive(s);
      break;
    case kBackendWaitDone:
      if (int s = live_server(arg); s >= 0) postgres_respond(s);
      break;
    case kResultArrive:
      if (int s = live_server(arg); s >= 0) pooler_result_arrive(s);
      break;
    case kClientResultArrive:
      if (int c = live_client(arg); c >= 0) client_result(c);
      break;
    case kClientErrorArrive:
      if (int c = live_client(arg); c >= 0) client_error(c, false);
      break;
    case kThinkDone:
      if (int c = live_client(arg); c >= 0) begin_transaction(c, sim_.now());
      break;
    case kOpenArrival:
      if (int c = live_client(arg); c >= 0) begin_transaction(c, clients_[c].next_arrival);
      break;
    case kWaitTimeout:
      if (int c = live_client(arg); c >= 0) pooler_wait_timeout(c);
      break;
    case kReserveCheck:
      if (int c = live_client(arg); c >= 0) pooler_reserve_check(c);
      break;
    case kServerConnectArrive:
      if (int s = live_server(arg); s >= 0) postgres_connect_arrive(s);
      break;
    case kServerReadyArrive:
      if (int s = live_server(arg); s >= 0) pooler_server_ready_arrive(s);
      break;
    case kServerRefusedArrive:
      if (int s = live_server(arg); s >= 0) pooler_server_refused(s);
      break;
    case kPoolRetry:
    case kWarmupEnd:
    case kSample:
    case kRestart:
    case kDrainTimeout:
    case kRelisten:
      handle_control_event(static_cast<Event>(kind), arg);
      break;
    case kLoginOkArrive:
      if (int c = live_client(arg); c >= 0 && clients_[c].state == ClientState::kLoggingIn) client_connected(c);
      break;
    case kLoginChallengeArrive:
      if (int c = live_client(arg); c >= 0 && clients_[c].state == ClientState::kLoggingIn) client_login_challenge(c);
      break;
    case kLoginResponseArrive:
      if (int c = live_client(arg); c >= 0 && clients_[c].state == ClientState::kLoggingIn) pooler_login_response(c);
      break;
    default:
      RPSIM_ASSERT(false, "unknown event kind");
  }
}

// Events of the run's control (warm-up end, samples, restarts, pool retries): rare, and out of handle_event so
// that its per-message cases are a reference check and one call each, which need no saved registers.
void World::handle_control_event(Event kind, std::uint64_t arg) {
  switch (kind) {
    case kPoolRetry: {
      const int p = static_cast<int>(arg >> 32);
      const int pool = static_cast<int>(arg & 0xffffffffu);
      processes_[p].pools[pool].retry_scheduled = false;
      pooler_try_open(p, pool);
      break;
    }
    case kWarmupEnd:
      reset_statistics();
      break;
    case kSample:
      sample_timeseries();
      sim_.schedule_in(config_.timeseries_interval, this, kSample, 0);
      break;
    case kRestart:
      pooler_restart(static_cast<int>(arg));
      break;
    case kDrainTimeout: {
      const int p = static_cast<int>(arg);
      if (!processes_[p].draining) break;  // it already left and came back
      for (std::size_t c = 0; c < clients_.size(); ++c) {
        if (clients_[c].process == p && clients_[c].state == ClientState::kReady) {
          client_disconnect(static_cast<int>(c));
          schedule_reconnect(static_cast<int>(c), groups_cfg_[clients_[c].group].config.reconnect_delay.sample(groups_cfg_[clients_[c].group].rng.reconnect));
        }
    }
      processes_[p].disconnect_clients = true;
      break;
    }
    case kRelisten: {
      Process& p = processes_[arg];
      p.exited = false;
      p.disconnect_clients = false;
      p.restart = -1;
      kernel_relisten(static_cast<int>(arg));
      break;
    }
    default:
      RPSIM_ASSERT(false, "not a control event");
  }
}

bool World::work_start(std::uint32_t kind, std::uint64_t arg) {
  switch (static_cast<Event>(kind)) {
    case kWorkLogin: {
      const int c = live_client(arg);
      return c >= 0 && pooler_login_start(c);
    }
    case kWorkLoginStep:
      return live_client(arg) >= 0;
    case kWorkQuery:
    case kWorkClientEnd:
      return live_client(arg) >= 0;
    case kWorkClientSend: {
      const int c = live_client(arg);
      if (c < 0) return false;
      Client& cl = clients_[c];
      if (cl.starts_at_send) {
        // pgbench stamps a transaction's start as its thread turns to sending it (CSTATE_START_TX).
        cl.txn_start = sim_.now();
        cl.starts_at_send = false;
      }
      return true;
    }
    case kWorkClientConnect: {
      const int c = live_client(arg);
      return c >= 0 && client_connect_start(c);
    }
    default:
      return live_server(arg) >= 0;
  }
}

void World::work_done(std::uint32_t kind, std::uint64_t arg) {
  switch (static_cast<Event>(kind)) {
    case kWorkLogin:
    case kWorkLoginStep:
      if (int c = live_client(arg); c >= 0) pooler_login_round_done(c);
      break;
    case kWorkQuery:
      if (int c = live_client(arg); c >= 0) pooler_query_done(c);
      break;
    case kWorkResult:
      if (int s = live_server(arg); s >= 0) pooler_result_done(s);
      break;
    case kWorkServerLogin:
      if (int s = live_server(arg); s >= 0) pooler_server_ready(s);
      break;
    case kWorkBackendStart:
      if (int s = live_server(arg); s >= 0) postgres_backend_started(s);
      break;
    case kWorkExec:
      if (int s = live_server(arg); s >= 0) postgres_exec_done(s);
      break;
    case kWorkReset:
      if (int s = live_server(arg); s >= 0) postgres_reset_done(s);
      break;
    case kWorkClientEnd:
      if (int c = live_client(arg); c >= 0) client_transaction_end(c);
      break;
    case kWorkClientConnect:
      if (int c = live_client(arg); c >= 0) kernel_connect(c);
      break;
    case kWorkClientSend:
      if (int c = live_client(arg); c >= 0) send_query(c);
      break;
    default:
      RPSIM_ASSERT(false, "unknown work kind");
  }
}

void World::reset_statistics() {
  const sim::Time now = sim_.now();
  transactions_.reset();
  latency_.reset();
  latency_after_connect_.reset();
  connect_time_.reset();
  backends_.reset(now);
  for (sim::Counter* c : {&refused_logins_, &accept_queue_resets_, &migrated_, &syn_drops_, &connection_refused_,
                     &port_exhaustion_, &query_wait_timeouts_, &max_client_conn_errors_, &failed_connects_}) {
    c->reset();
  }
  for (Process& p : processes_) {
    p.connections.reset(now);
    p.servers.reset(now);
    p.servers_active.reset(now);
    p.in_transaction.reset(now);
    p.transactions.reset();
    p.logins.reset();
    p.wait.reset();
    p.latency.reset();
    p.loop->reset_stats(now);
    p.series_transactions = 0;
    p.series_busy_start = 0;
  }
  for (auto& loop : client_loops_) loop->reset_stats(now);
  measured_queries_.reset();
  reuse_distance_sum_.reset();
  cold_cpu_charged_ = 0;
  for (Server& sv : servers_) {
    if (sv.loop) sv.loop->reset_stats(now);
  }
  for (auto& cpu : cpus_) cpu->reset_stats(now);
}

void World::sample_timeseries() {
  const sim::Time now = sim_.now();
  const double elapsed = sim::to_seconds(now - measure_start_);
  for (Process& p : processes_) {
    TimeseriesRow row;
    row.time_s = sim::to_seconds(now);
    row.process = p.index;
    row.connections = p.clients;
    const double busy_total = p.loop->utilization(now) * elapsed;
    row.utilization = std::clamp((busy_total - p.series_busy_start) / sim::to_seconds(config_.timeseries_interval), 0.0, 1.0);
    p.series_busy_start = busy_total;
    for (const Pool& pool : p.pools) row.waiting_clients += static_cast<int>(pool.waiting.size());
    row.servers = static_cast<int>(p.servers.current());
    row.transactions = p.transactions.value() - p.series_transactions;
    p.series_transactions = p.transactions.value();
    timeseries_.push_back(row);
  }
}

RunResult World::collect(double wall_s) {
  const sim::Time now = sim_.now();
  RunResult r;
  r.duration_s = sim::to_seconds(now - measure_start_);
  r.transactions = transactions_.value();
  r.throughput_tps = r.duration_s > 0 ? static_cast<double>(r.transactions) / r.duration_s : 0;
  r.latency = latency_;
  r.latency_after_connect = latency_after_connect_;
  r.connect_time = connect_time_;
  for (Process& p : processes_) {
    ProcessResult pr;
    pr.index = p.index;
    pr.pod = p.pod;
    pr.cpus = p.cpus;
    pr.connections_mean = p.connections.mean(now);
    pr.connections_max = p.connections.max();
    pr.transactions = p.transactions.value();
    pr.throughput_tps = r.duration_s > 0 ? static_cast<double>(pr.transactions) / r.duration_s : 0;
    pr.utilization = p.loop->utilization(now);
    add_loop(pr.loop, *p.loop, now);
    pr.wait_mean_ms = p.wait.mean() / 1e6;
    pr.wait_p99_ms = static_cast<double>(p.wait.quantile(0.99)) / 1e6;
    pr.servers_mean = p.servers.mean(now);
    pr.servers_max = p.servers.max();
    pr.servers_active_mean = p.servers_active.mean(now);
    pr.in_transaction_mean = p.in_transaction.mean(now);
    pr.latency_mean_ms = p.latency.mean() / 1e6;
    pr.logins = p.logins.value();
    pr.wait = p.wait;
    r.processes.push_back(std::move(pr));
  }
  for (const auto& loop : client_loops_) add_loop(r.client_threads, *loop, now);
  for (const Server& sv : servers_) {
    if (sv.loop) add_loop(r.backend_loops, *sv.loop, now);
  }
  r.postgres_queries = measured_queries_.value();
  if (r.postgres_queries > 0) {
    r.postgres_reuse_distance_mean =
        static_cast<double>(reuse_distance_sum_.value()) / static_cast<double>(r.postgres_queries);
  }
  r.postgres_cold_cpu_seconds = sim::to_seconds(cold_cpu_charged_);
  r.backends_mean = backends_.mean(now);
  r.backends_max = backends_.max();
  r.postgres_utilization = cpus_[db_host_]->mean_busy_fraction(now);
  r.pooler_host_utilization = cpus_[pooler_host_]->mean_busy_fraction(now);
  r.refused_logins = refused_logins_.value();
  r.accept_queue_resets = accept_queue_resets_.value();
  r.migrated = migrated_.value();
  r.syn_drops = syn_drops_.value();
  r.connection_refused = connection_refused_.value();
  r.port_exhaustion = port_exhaustion_.value();
  r.query_wait_timeouts = query_wait_timeouts_.value();
  r.max_client_conn_errors = max_client_conn_errors_.value();
  r.failed_connects = failed_connects_.value();
  r.connections_opened = connections_opened_;
  r.connections_closed = connections_closed_;
  std::uint64_t open = 0;
  for (const Process& p : processes_) open += static_cast<std::uint64_t>(p.clients);
  r.connections_open_at_end = open;
  r.events = sim_.events_executed();
  r.wall_s = wall_s;
  r.timeseries = std::move(timeseries_);
  return r;
}

}  // namespace models
