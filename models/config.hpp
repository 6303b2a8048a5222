// The world's description as plain structs: what the models take, and what the JSON scenario format maps onto.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/jhash.hpp"
#include "sim/distribution.hpp"
#include "sim/time.hpp"

namespace models {

using sim::Distribution;
using sim::Time;

// A machine. Logical CPU ids follow Linux's usual x86 enumeration: cpu = thread * cores + core, so with 4 cores and
// 2 threads per core, cpus 0 and 4 are hyperthread siblings of core 0.
struct HostConfig {
  std::string name;
  std::uint32_t address = 0;  // IPv4, host order (10.0.0.1 == 0x0a000001)
  int cores = 1;
  int threads_per_core = 1;
  // Throughput of a core whose two hardware threads are both busy, relative to one busy thread: a busy pair does
  // 1.2x one thread's work, so each sibling runs at 0.6 (the kernel's old smt_gain modelled ~1.15x).
  double smt_pair_throughput = 1.2;
  // How the OS shares a hardware thread among runnable bursts. 0: processor sharing (every burst progresses at
  // once, each at rate / bursts), the limit of infinitely short slices. Above 0: a run queue per thread, as
  // Linux's scheduler keeps one per cpu: the head runs alone at full speed until it ends or its slice of this
  // length runs out (then it goes to the back), and a thread that goes idle pulls the oldest waiting burst it
  // may run from the busiest other thread (the kernel's new-idle balancing). Short bursts then wait their turn
  // whole, as on a real machine, instead of all finishing late together.
  Time timeslice = 0;
  // Which waiting burst a run queue takes next. kFifo: the oldest, and one whose slice ran out goes to the back.
  // kEevdf: Linux's EEVDF with nice-0 weights (kernel/sched/fair.c since 6.6): every process has a virtual
  // runtime that advances while it runs; the next to run is, of those not ahead of the queue's average virtual
  // runtime (eligible), the one with the earliest virtual deadline (virtual runtime + slice). A process keeps its
  // lag (the queue's average minus its own, at most two slices either way) across a sleep and is placed with it
  // when it wakes, so one that ran less than its share runs first and one that ran more waits (a busy pooler
  // behind many light backends). A negative lag wears off while the process sleeps, as the kernel's delayed
  // dequeue lets it. A wake-up preempts the running process when the woken one is what the queue would pick now,
  // unless the running one is still eligible (RUN_TO_PARITY: it then keeps the cpu until its slice is used).
  // Needs timeslice > 0.
  enum class Scheduler { kFifo, kEevdf };
  Scheduler scheduler = Scheduler::kFifo;
  // CPU a process spends beyond its work when it wakes from idle onto a hardware thread that was idle (not one
  // that went idle at that very instant, which a waker about to sleep hands over): the idle thread's exit from its
  // idle state, the interrupt that woke it (inside a virtual machine, exits to the hypervisor on both sides), and
  // caches that cooled while it slept. A wake-up that queues on a busy thread does not pay it, so CPU per
  // transaction falls as a machine fills up. Charged to every event loop on the host (poolers, client threads,
  // Postgres backends). Default 0.
  Time idle_wakeup = 0;
  // Time such a wake-up takes before the woken process runs: the idle state's exit latency (inside a virtual
  // machine whose idle cpus halt, the hypervisor waking the virtual cpu). The thread is the woken process's
  // meanwhile, and nobody is charged for it. Default 0.
  Time wakeup_latency = 0;
  // CPU a process spends beyond its work when a process on another cpu of the host wakes it and Linux has to
  // interrupt the cpu it lands on: that cpu is idle, or the woken process preempts the one running there. Linux
  // sends an interprocessor interrupt then (a function call to an idle cpu's wake list, a reschedule to a busy
  // one; /proc/interrupts CAL and RES), and inside a virtual machine both sides exit to the hypervisor. A wake-up
  // onto the waker's own cpu, one that queues on a busy cpu without preempting, and one without a waker (a timer)
  // send none and cost nothing extra. On top of idle_wakeup. Needs the EEVDF run queue (scheduler eevdf), which
  // knows the waker's cpu and decides preemption. Default 0.
  Time ipi_wakeup = 0;
  // CPU a process spends beyond its work when it handles a message that a process on another cpu of the host sent:
  // the socket buffers, the connection's state and the wait queue the sender just wrote move from the sender's
  // cpu's caches to this one's (inside a virtual machine the two virtual cpus need not even share a core). Charged to
  // the burst that handles the message, whether the receiver was asleep or busy; a message handled on the cpu that
  // sent it, or that nobody sent at that instant (a timer, a message from another host), costs nothing extra. The
  // sender is the cpu whose burst ended at the instant the message arrives, so this needs a run queue (timeslice >
  // 0), which tracks it, and a loopback without delay (network.loopback_latency 0). On top of ipi_wakeup. Default 0.
  Time cross_cpu_message = 0;
  [[nodiscard]] int cpus() const { return cores * threads_per_core; }
};

struct NetworkConfig {
  Time latency = 50 * sim::kMicrosecond;           // one way, between two hosts
  Time loopback_latency = 10 * sim::kMicrosecond;  // one way, within a host
  // Network-stack (softirq) CPU per packet, charged to the CPU that consumes the packet (receive side).
  Time softirq_per_packet = 0;
  Time syn_retry = 1 * sim::kSecond;  // first SYN retransmission timeout (doubles per retry)
  int syn_retries = 6;                // Linux tcp_syn_retries
};

enum class Steering { kHash, kBpfCpu, kIncomingCpu, kLeastConnections };

struct KernelConfig {
  HashFormula hash = HashFormula::kLinux615;
  Steering steering = Steering::kHash;
  bool tcp_migrate_req = false;
  bool wildcard_listener = true;  // listeners bound to 0.0.0.0 hash with local address 0
  int listen_backlog = 128;       // PgBouncer's listen_backlog default
  std::optional<std::uint32_t> hash_secret;  // fixed secret + netns mix; drawn per replication when unset
  int port_range_low = 32768;                // net.ipv4.ip_local_port_range
  int port_range_high = 60999;
  // tcp_tw_reuse: false is Linux's default (2), which lets connect() reuse a TIME_WAIT tuple only on loopback;
  // true is 1, reuse everywhere. Without reuse, -C style churn from one client address runs out of ports.
  bool tw_reuse = false;
};

enum class PoolMode { kSession, kTransaction, kStatement };
enum class RestartMode { kWaitForClients, kDisconnect };

// Pooler CPU per unit of work; each is charged on the process's own hardware thread, in its single event loop.
struct PoolerCpuConfig {
  Distribution query = Distribution::constant(11'500);   // per client message forwarded to a server
  Distribution result = Distribution::constant(11'500);  // per server response forwarded to a client
  Distribution login = Distribution::constant(60'000);   // accept + startup + authentication of a client
  Distribution server_login = Distribution::constant(40'000);  // opening and authenticating a server connection
  Time wakeup = 0;  // per wake-up of an idle process's loop (EventLoop::set_wakeup_cost)
};

struct PoolerConfig {
  std::string host;
  int processes = 2;
  // One CPU list per process (empty list: left to the OS scheduler); an empty outer vector leaves all to the OS.
  std::vector<std::vector<int>> pinning;
  std::uint32_t listen_addr = 0;  // 0 = wildcard
  std::uint16_t listen_port = 6432;
  int pods = 1;  // groups of `processes` behind a Kubernetes-like Service, each pod its own address and group
  bool service_round_robin = false;  // the Service's choice of pod: random (iptables) or round robin (IPVS)
  PoolMode pool_mode = PoolMode::kTransaction;
  int default_pool_size = 20;
  int min_pool_size = 0;
  int reserve_pool_size = 0;
  Time reserve_pool_timeout = 5 * sim::kSecond;
  int max_client_conn = 100;
  int max_db_connections = 0;  // per database per process; 0 = unlimited
  Time query_wait_timeout = 120 * sim::kSecond;  // 0 = wait forever
  Time server_login_retry = 15 * sim::kSecond;
  // Round trips between client and pooler from the startup message to the login's answer: 1 with trust, 2 with
  // md5 (password request, password), 3 with SCRAM; one more when the client first asks for TLS and is told no
  // (libpq's default sslmode=prefer over TCP). cpu.login is spread evenly over them.
  int login_round_trips = 1;
  bool server_round_robin = false;  // false: LIFO reuse of idle servers, like PgBouncer's default
  PoolerCpuConfig cpu;
};

struct PostgresConfig {
  std::string host;
  int max_connections = 100;
  Distribution backend_startup = Distribution::constant(1'500'000);  // CPU to fork and initialise a backend
  Distribution reset_query = Distribution::constant(50'000);  // server_reset_query (session mode), CPU
  // CPU a query adds because its backend's caches went cold while other backends ran: each backend process has its
  // own catalog and plan caches, memory contexts and stack, and the more other backends ran on the database host
  // since its previous query, the less of that is still in the CPU's caches. Points (the number of other backends'
  // queries on the host since this backend's previous query, the extra CPU), strictly increasing in the count;
  // interpolated linearly between points and constant beyond both ends. Empty (the default): no such cost.
  struct ColdPoint {
    std::int64_t distance = 0;
    Time extra = 0;
  };
  std::vector<ColdPoint> cold_cpu;
};

enum class LoopMode { kClosed, kOpen };
enum class ConnectionMode { kPersistent, kPerTransaction };

struct ClientGroupConfig {
  std::string name;
  int count = 1;
  std::vector<std::string> hosts;  // clients are spread round-robin over these hosts
  std::string database = "app";
  std::string user = "app";
  LoopMode mode = LoopMode::kClosed;
  double rate = 0;                      // open loop: transactions per second per client (Poisson)
  Distribution think_time;              // closed loop: between transactions
  ConnectionMode connection = ConnectionMode::kPersistent;
  std::optional<Distribution> lifetime;  // persistent connections reconnect after this long (at a transaction end)
  Distribution reconnect_delay;          // after a disconnect, an error or a refused login
  int queries_per_transaction = 1;
  Distribution server_cpu = Distribution::constant(200'000);  // per query, backend CPU on the database host
  Distribution server_wait;                                   // per query, non-CPU time (I/O, pg_sleep)
  Distribution client_cpu;           // per transaction, on the client host (e.g. pgbench's own CPU)
  // Per query, on the client's thread before the query leaves (pgbench's sendCommand), queued behind what the
  // thread already has to do. A closed loop's transaction then starts, as pgbench logs it, when its thread starts
  // sending, not when its previous one ended: pgbench reads a batch of results and sends the next queries in its
  // next round, and the time in between is in no transaction's logged latency. Default 0 (sent at once).
  Distribution send_cpu;
  int client_threads = 1;            // like pgbench -j: event loops on each client host that share its clients
  // Client-side CPU per connection (socket, connect, startup and authentication in the client library), run on
  // the client's thread as the connection starts, before its SYN.
  Distribution connect_cpu;
  // CPU a client thread spends each time it wakes from idle (EventLoop::set_wakeup_cost): a pgbench thread's
  // ppoll returning and the switch back to it. A busy thread takes several results per wake-up, so its CPU per
  // transaction falls as load rises. Default 0.
  Time wakeup = 0;
  // A (re)connection blocks its client thread, like pgbench's libpq connect: from the start of the connection
  // (its connect_cpu, then the SYN) until the login is answered or fails, the thread runs nothing for its other
  // clients, whose results and connections wait. A thread with k per-transaction clients, connection time c,
  // client CPU u and transaction time t (query out to result in) then completes a transaction every
  // max(c + u, (c + u + t) / k): the connections, not the clients, set the pace once k (c + u) > c + u + t.
  bool blocking_connect = false;
  Time start = 0;                    // connections start uniformly spread over [0, start]
  // Per-client work multiplier for weighted (heavy / light) groups: scales server and pooler CPU per query.
  double weight = 1.0;
};

struct RestartConfig {
  Time at = 0;
  int process = 0;  // global process index (pod * processes + index within the pod)
  RestartMode mode = RestartMode::kWaitForClients;
  Time downtime = 1 * sim::kSecond;  // between the process exiting and its replacement listening
  Time drain_timeout = 30 * sim::kSecond;  // wait_for_clients: clients still connected then are disconnected
};

struct WorldConfig {
  std::vector<HostConfig> hosts;
  NetworkConfig network;
  KernelConfig kernel;
  PoolerConfig pooler;
  PostgresConfig postgres;
  std::vector<ClientGroupConfig> clients;
  std::vector<RestartConfig> restarts;
  // A given connection-to-process assignment: per process, how many of the persistent clients it holds. When set,
  // the kernel's choice is replaced for persistent clients' first connections (to condition on a measured spread).
  std::vector<int> assignment;
  Time timeseries_interval = 0;  // 0 = no time series
};

}  // namespace models
