// The simulated world: client connections, the kernel's reuseport groups, pooler processes with their pools, and
// Postgres backends, on hosts with CPUs. One object per replication; the behaviour of each part lives in its own
// file (world_kernel.cpp, world_pooler.cpp, world_postgres.cpp, world_clients.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "models/config.hpp"
#include "models/cpu.hpp"
#include "models/ephemeral_ports.hpp"
#include "models/results.hpp"
#include "models/reuseport.hpp"
#include "sim/random.hpp"
#include "sim/simulation.hpp"
#include "sim/stats.hpp"

namespace models {

class World final : public sim::EventHandler, public EventLoop::Owner {
 public:
  // Builds the world for one replication. The config must already be validated (scenarios/ does that); a broken
  // one here is a programming error and stops with an assertion.
  World(const WorldConfig& config, std::uint64_t seed, std::uint64_t replication);
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  ~World();

  // Simulates warm-up then duration, and returns what was measured after the warm-up. When `cancel` becomes true
  // (polled between hundredths of the run) it stops early and returns what it has; the caller discards that.
  RunResult run(sim::Time warmup, sim::Time duration, const std::atomic<bool>* cancel = nullptr);
  // Progress in [0, 1] of the current run; safe to poll from another thread (for a progress bar).
  [[nodiscard]] double progress() const { return progress_.load(std::memory_order_relaxed); }

  void handle_event(std::uint32_t kind, std::uint64_t arg) override;
  bool work_start(std::uint32_t kind, std::uint64_t arg) override;
  void work_done(std::uint32_t kind, std::uint64_t arg) override;

  [[nodiscard]] sim::Simulation& simulation() { return sim_; }

 private:
  // ---- entities -------------------------------------------------------------------------------------------------
  enum class ClientState : std::uint8_t {
    kIdle,          // not connected: before its start, or waiting to reconnect
    kConnecting,    // SYN sent, not yet bound to a listener (or retrying)
    kAcceptQueue,   // bound to a listener, waiting for the pooler to accept and log it in
    kLoggingIn,     // the pooler is processing its login
    kReady,         // logged in, between transactions
    kInTransaction,  // a transaction is under way
    kClosing         // the other side closed or reset it; the client has not noticed yet
  };
  // Fields ordered by size so the struct packs without holes (one of these exists per client connection).
  struct Client {
    sim::Time txn_start = 0;
    // When it joined a pool's wait queue; while connecting (never waiting then), when its thread started the
    // connection (connect_cpu, then the SYN). One field for both keeps Client within its 128 bytes.
    sim::Time wait_start = 0;
    sim::Time attributed_at = 0;  // when its current transaction became its process's (Little's law per process)
    sim::Time next_arrival = 0;  // open loop: the schedule is independent of completions, like pgbench --rate
    sim::Time lifetime_end = sim::kTimeMax;
    sim::EventId timer;  // think time, open-loop arrival, wait timeout or reconnect: one at a time
    sim::EventId reserve_timer;
    std::uint32_t gen = 0;  // bumped per connection attempt: events of an older connection are ignored
    std::uint32_t addr = 0;
    std::uint32_t daddr = 0;
    int group = 0;
    int host = 0;    // index into hosts
    int thread = 0;  // index into client_loops_
    int pool = 0;    // (database, user) pair
    int process = -1;
    int server = -1;
    int queries_left = 0;
    int syn_attempts = 0;
    int pod = 0;
    int assigned_process = -1;
    std::uint16_t port = 0;
    ClientState state = ClientState::kIdle;
    bool has_port = false;  // an ephemeral port is held (released at disconnect or failure)
    bool waiting = false;   // in a pool's wait queue
    bool disconnect_after_txn = false;
    bool assigned = false;     // a given assignment decides its next connection's process
    bool txn_pending = false;  // a transaction should start right after login (per-transaction connections)
    bool starts_at_send = false;  // a closed loop's transaction: its latency starts when its thread sends
    bool holds_thread = false;  // its blocking connection is under way: its client thread is blocked
    std::uint8_t login_rounds_left = 0;  // of pooler.login_round_trips, while logging in
  };
  // bench/ measures memory per connection at 1M clients against a 256-byte budget; this struct is half of it.
  static_assert(sizeof(Client) <= 128, "Client grew past 128 bytes: check bench/README.md's memory budget");
  enum class ServerState : std::uint8_t { kConnecting, kLoggingIn, kIdle, kActive, kResetting, kClosed };
  struct Server {
    std::uint32_t gen = 0;
    int process = -1;
    int pool = -1;
    int client = -1;
    ServerState state = ServerState::kClosed;
    bool has_backend = false;  // a Postgres backend process exists (counts toward max_connections)
    std::uint64_t last_query = 0;  // backend_queries_ just after this backend's previous query (or its start)
    std::unique_ptr<EventLoop> loop;  // the backend process on the database host
  };
  struct Pool {
    int database = 0;
    std::vector<int> idle;      // back = most recently released (LIFO reuse)
    std::deque<int> idle_rr;    // round-robin reuse: front = least recently released
    std::deque<std::uint64_t> waiting;  // client refs (gen << 32 | id), FIFO
    int total = 0;       // servers of this pool in any state but closed
    int connecting = 0;  // opening, not yet usable
    int waiters = 0;     // live entries of `waiting`
    bool reserve_open = false;
    sim::Time retry_after = 0;  // after a refused login, no new server before this
    bool retry_scheduled = false;
  };
  struct Process {
    int index = 0;
    int pod = 0;
    std::vector<int> cpus;
    int incoming_cpu = -1;
    std::unique_ptr<EventLoop> loop;
    std::vector<Pool> pools;
    std::vector<int> db_servers;  // per database, for max_db_connections
    std::deque<std::uint64_t> accept_queue;  // client refs, validated lazily
    int accept_pending = 0;                  // live entries of accept_queue
    int clients = 0;                         // logged in
    int logging_in = 0;                      // logins the loop has started but not finished
    bool listening = true;
    bool draining = false;            // restarting: listener closed, waiting for its clients to leave
    bool disconnect_clients = false;  // restarting: clients are sent away at their next transaction boundary
    bool exited = false;              // between exit and the replacement's listen()
    int restart = -1;                 // the restart in progress
    // One stream per cost, so a change to one distribution never shifts another's draws.
    sim::RandomStream login_rng;
    sim::RandomStream server_login_rng;
    // statistics
    sim::TimeWeightedCount connections;
    sim::TimeWeightedCount servers;
    sim::TimeWeightedCount servers_active;  // assigned to a client (in session mode: for the whole session)
    sim::TimeWeightedCount in_transaction;
    sim::Counter transactions;
    sim::Counter logins;
    sim::LatencyHistogram wait;
    sim::LatencyHistogram latency;
    std::uint64_t series_transactions = 0;
    double series_busy_start = 0;
  };
  // A group's random streams: one per distribution of its config, named "clients.<g>.<name>.<what>", so that
  // changing one distribution (or the number of draws it makes) leaves every other sequence as it was.
  struct GroupStreams {
    GroupStreams(std::uint64_t seed, std::uint64_t replication, const std::string& prefix)
        : start(seed, replication, prefix + ".start"),
          arrivals(seed, replication, prefix + ".arrivals"),
          think(seed, replication, prefix + ".think"),
          lifetime(seed, replication, prefix + ".lifetime"),
          reconnect(seed, replication, prefix + ".reconnect"),
          query(seed, replication, prefix + ".pooler_query"),
          result(seed, replication, prefix + ".pooler_result"),
          server_cpu(seed, replication, prefix + ".server_cpu"),
          server_wait(seed, replication, prefix + ".server_wait"),
          client_cpu(seed, replication, prefix + ".client_cpu"),
          send_cpu(seed, replication, prefix + ".send_cpu"),
          connect_cpu(seed, replication, prefix + ".connect_cpu") {}
    sim::RandomStream start, arrivals, think, lifetime, reconnect, query, result, server_cpu, server_wait, client_cpu,
        send_cpu, connect_cpu;
  };
  struct ClientGroupState {
    ClientGroupConfig config;
    GroupStreams rng;
    Distribution query_cost, result_cost;  // pooler CPU per message, scaled by the group's weight
    Distribution server_cpu;
    bool sends_at_once = true;  // send_cpu is 0: queries leave without a work item on the client's thread
  };

  // ---- event and work kinds ---------------------------------------------------------------------------------------
  enum Event : std::uint32_t {
    kClientStart, kSynArrive, kStartupArrive, kSynRetry, kConnectFailed, kQueryArrive, kBackendQueryArrive,
    kBackendWaitDone, kResultArrive, kClientResultArrive, kClientErrorArrive, kThinkDone, kOpenArrival,
    kWaitTimeout, kReserveCheck, kServerConnectArrive, kServerReadyArrive, kServerRefusedArrive, kPoolRetry,
    kWarmupEnd, kSample, kRestart, kDrainTimeout, kRelisten, kLoginOkArrive, kLoginChallengeArrive,
    kLoginResponseArrive,
    // work items on event loops
    kWorkLogin, kWorkLoginStep, kWorkQuery, kWorkResult, kWorkServerLogin, kWorkBackendStart, kWorkExec, kWorkReset, kWorkClientEnd,
    kWorkClientConnect, kWorkClientSend,
  };
  static std::uint64_t ref(std::uint32_t gen, int id) { return (static_cast<std::uint64_t>(gen) << 32) | static_cast<std::uint32_t>(id); }
  static int ref_id(std::uint64_t r) { return static_cast<int>(r & 0xffffffffu); }
  static std::uint32_t ref_gen(std::uint64_t r) { return static_cast<std::uint32_t>(r >> 32); }
  [[nodiscard]] std::uint64_t client_ref(int c) const { return ref(clients_[c].gen, c); }
  [[nodiscard]] std::uint64_t server_ref(int s) const { return ref(servers_[s].gen, s); }
  // The client behind a reference if that connection is still current, else -1. Inline: every event and work item
  // checks one.
  [[nodiscard]] int live_client(std::uint64_t r) const {
    const int c = ref_id(r);
    return clients_[c].gen == ref_gen(r) ? c : -1;
  }
  [[nodiscard]] int live_server(std::uint64_t r) const {
    const int s = ref_id(r);
    return servers_[s].gen == ref_gen(r) && servers_[s].state != ServerState::kClosed ? s : -1;
  }

  // Posts a work item whose work_start is only the reference check the caller has just made. When the loop would
  // run it at once (zero cost, not blocked), `done` (what work_done does for it) is called here instead: the same
  // effect without the loop's two virtual calls and their two reference checks. Three of the four work items of a
  // transaction cost nothing in most scenarios.
  template <class Done>
  void post_work(EventLoop& loop, Event kind, std::uint64_t arg, sim::Time cost, Done done) {
    if (loop.runs_at_once(cost)) {
      done();
    } else {
      loop.post(kind, arg, cost);
    }
  }

  void handle_control_event(Event kind, std::uint64_t arg);

  // ---- network --------------------------------------------------------------------------------------------------
  [[nodiscard]] sim::Time one_way(int host_a, int host_b) const {
    return host_a == host_b ? config_.network.loopback_latency : config_.network.latency;
  }
  void send(int from_host, int to_host, Event kind, std::uint64_t arg, sim::Time extra = 0) {
    sim_.schedule_detached_in(one_way(from_host, to_host) + extra, this, kind, arg);
  }
  // A login message to client c: its client library reads it on the client's thread, which sleeps (blocked in
  // its connect, or idle) and, woken onto an idle cpu, starts only after the host's wakeup_latency. Judged when
  // the message is sent. The reading's CPU is in connect_cpu.
  [[nodiscard]] sim::Time client_wake_delay(int c) const;
  [[nodiscard]] sim::Time softirq() const { return config_.network.softirq_per_packet; }

  // ---- clients (world_clients.cpp) --------------------------------------------------------------------------------
  void client_start(int c);
  bool client_connect_start(int c);
  void client_connect_over(int c);
  void client_connected(int c);
  void client_login_challenge(int c);  // a login round's challenge: the client library answers at once
  void client_after_login(int c);
  void begin_transaction(int c, sim::Time start);
  void send_query(int c);
  // The client's thread sends a query: at once when its group's send_cpu is 0 (inline: once per query), else as
  // a work item on the thread (clients[].send_cpu), then send_query.
  void client_send(int c) {
    if (groups_cfg_[clients_[c].group].sends_at_once) {
      send_query(c);
    } else {
      client_send_on_thread(c);
    }
  }
  void client_send_on_thread(int c);
  void client_result(int c);
  void client_transaction_end(int c);
  void client_after_transaction(int c);
  void client_error(int c, bool count_as_failed);
  void client_disconnect(int c);
  void schedule_reconnect(int c, sim::Time delay);
  void schedule_open_arrival(int c);

  // ---- kernel (world_kernel.cpp) ----------------------------------------------------------------------------------
  void kernel_connect(int c);
  void kernel_syn_arrive(int c);
  int kernel_choose_listener(int c, int pod);
  void kernel_bind(int c, int p);
  void kernel_close_listener(int p);
  void kernel_relisten(int p);
  void kernel_reset(int c);
  void release_port(int c);
  [[nodiscard]] int rx_cpu(const FourTuple& t) const;
  [[nodiscard]] FourTuple tuple_of(int c) const;

  // ---- pooler (world_pooler.cpp) ----------------------------------------------------------------------------------
  // Messages reaching a pooler process: each becomes a work item on its event loop.
  void pooler_startup_arrive(int c);
  void pooler_query_arrive(int c);
  void pooler_result_arrive(int s);
  void pooler_server_ready_arrive(int s);
  bool pooler_login_start(int c);
  void pooler_login_done(int c);
  void pooler_login_response(int c);    // the client's answer to a challenge reaches the pooler: the next round
  void pooler_login_round_done(int c);  // a round of the login ends: the next challenge, or its answer
  [[nodiscard]] sim::Time login_round_cost(int process);
  void pooler_query_done(int c);
  void pooler_result_done(int s);
  void pooler_acquire(int c);
  void pooler_assign(int c, int s);
  void pooler_release(int s);
  void pooler_try_open(int p, int pool);
  void pooler_server_ready(int s);
  void pooler_server_refused(int s);
  void pooler_wait_timeout(int c);
  void pooler_reserve_check(int c);
  void pooler_client_gone(int c);
  void pooler_remove_waiter(int c);
  void pooler_restart(int restart_index);
  void pooler_maybe_exit(int p);
  [[nodiscard]] bool pooler_can_open(const Process& proc, const Pool& pool) const;

  // ---- postgres (world_postgres.cpp) ------------------------------------------------------------------------------
  int postgres_open_server(int p, int pool);
  void postgres_connect_arrive(int s);
  void postgres_backend_started(int s);
  void postgres_query_arrive(int s);
  sim::Time postgres_cold_cpu(Server& sv);
  void postgres_exec_done(int s);
  void postgres_respond(int s);
  void postgres_reset(int s);
  void postgres_reset_done(int s);
  void postgres_close_server(int s);

  // ---- statistics (world.cpp) -------------------------------------------------------------------------------------
  void reset_statistics();
  void sample_timeseries();
  RunResult collect(double wall_s);

  const WorldConfig config_;  // owned: a world must not depend on its caller keeping the config alive
  std::uint64_t seed_;
  std::uint64_t replication_;
  sim::Simulation sim_;
  std::vector<std::unique_ptr<Cpu>> cpus_;  // per host
  int pooler_host_ = 0;
  int db_host_ = 0;
  std::vector<Process> processes_;
  std::vector<ReuseportGroup> groups_;  // per pod
  std::vector<Client> clients_;
  std::vector<ClientGroupState> groups_cfg_;
  std::vector<std::unique_ptr<EventLoop>> client_loops_;
  std::vector<int> client_loop_base_;  // per (group, host): first loop index
  std::vector<Server> servers_;
  std::vector<int> free_servers_;
  std::vector<EphemeralPorts> ports_;  // per client host
  std::vector<sim::RandomStream> port_rngs_;
  std::vector<std::pair<std::string, std::string>> pool_keys_;  // (database, user) per pool index
  std::vector<std::string> databases_;
  sim::RandomStream kernel_rng_;   // the hash secrets, drawn once per replication
  sim::RandomStream service_rng_;  // the Service's random choice of pod
  sim::RandomStream startup_rng_;  // Postgres backend start-up
  sim::RandomStream reset_rng_;    // server_reset_query
  std::uint32_t hash_secret_ = 0;
  std::uint32_t rss_secret_ = 0;
  int service_next_ = 0;
  int live_backends_ = 0;
  // Queries that reached any backend, ever (the clock of PostgresConfig::cold_cpu), and, for the measured part of
  // the run, the queries, their summed reuse distances and the cold-cache CPU they were charged.
  std::uint64_t backend_queries_ = 0;
  sim::Counter measured_queries_, reuse_distance_sum_;
  sim::Time cold_cpu_charged_ = 0;
  std::vector<sim::Time> restart_started_;

  // statistics
  sim::Time measure_start_ = 0;
  sim::Time end_time_ = 0;
  sim::Counter transactions_;
  sim::LatencyHistogram latency_;
  sim::LatencyHistogram latency_after_connect_;  // from the login of its connection (pgbench -C --log's latency)
  sim::LatencyHistogram connect_time_;           // from the connection's start to its login (or failure)
  sim::TimeWeightedCount backends_;
  sim::Counter refused_logins_, accept_queue_resets_, migrated_, syn_drops_, connection_refused_, port_exhaustion_;
  sim::Counter query_wait_timeouts_, max_client_conn_errors_, failed_connects_;
  std::uint64_t connections_opened_ = 0, connections_closed_ = 0;
  std::vector<TimeseriesRow> timeseries_;
  std::atomic<double> progress_{0.0};
};

}  // namespace models
