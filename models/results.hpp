// What one replication of a world measured, after the warm-up: plain numbers for reports and bindings.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/stats.hpp"
#include "sim/time.hpp"

namespace models {

// What a set of event loops did (one pooler process; every client thread; every Postgres backend): their CPU and
// how the scheduler treated them. One struct for the three, so that a new count is one field here, one line in
// World::collect (add_loop) and one key in the report (loop_totals).
struct LoopTotals {
  double cpu_seconds = 0;          // solo-thread CPU work done
  std::uint64_t wakeups = 0;       // times a loop woke from idle (counted whether or not a wake-up costs CPU)
  std::uint64_t idle_wakeups = 0;  // of those, the ones that started on an idle cpu
  std::uint64_t ipi_wakeups = 0;   // of those, the ones that interrupted their cpu from another cpu (ipi_wakeup)
  std::uint64_t cross_cpu_messages = 0;  // messages handled on another cpu than their sender's (cross_cpu_message)
  std::uint64_t preemptions = 0;   // times a woken process took its cpu while it ran (EEVDF)
  double run_delay_seconds = 0;    // runnable but not running (EventLoop::run_delay_seconds)
};

struct ProcessResult {
  int index = 0;
  int pod = 0;
  std::vector<int> cpus;  // pinning; empty when left to the OS
  double connections_mean = 0;
  double connections_max = 0;
  std::uint64_t transactions = 0;
  double throughput_tps = 0;
  double utilization = 0;  // fraction of time the event loop was busy
  LoopTotals loop;         // its event loop's CPU, wake-ups, preemptions and run delay
  double wait_mean_ms = 0;  // client wait for a server connection
  double wait_p99_ms = 0;
  double servers_mean = 0;
  double servers_max = 0;
  double servers_active_mean = 0;  // servers assigned to a client: the pool's Little's L
  double in_transaction_mean = 0;  // clients of this process inside a transaction (Little's L)
  double latency_mean_ms = 0;      // mean transaction latency of this process's clients (Little's W)
  std::uint64_t logins = 0;
  sim::LatencyHistogram wait;
};

struct TimeseriesRow {
  double time_s = 0;
  int process = 0;
  int connections = 0;
  double utilization = 0;  // over the last interval
  int waiting_clients = 0;
  int servers = 0;
  std::uint64_t transactions = 0;  // completed in the last interval
};

struct RunResult {
  double duration_s = 0;
  std::uint64_t transactions = 0;
  double throughput_tps = 0;
  sim::LatencyHistogram latency;  // transaction latency, ns
  // The same transactions' latency counted from the login of their connection: differs from `latency` only for
  // per-transaction connections, whose `latency` includes the connection (pgbench -C's --log leaves it out).
  sim::LatencyHistogram latency_after_connect;
  // Connections that logged in: from their start on the client's thread (connect_cpu, then the SYN) to the
  // login's answer, ns (pgbench -C's "connection time", without the disconnect).
  sim::LatencyHistogram connect_time;
  std::vector<ProcessResult> processes;
  LoopTotals client_threads;  // every group's client threads, on all hosts
  // Postgres
  double backends_mean = 0;
  double backends_max = 0;
  double postgres_utilization = 0;
  LoopTotals backend_loops;  // every backend process, over its life
  // Queries that reached a backend; their mean reuse distance (other backends' queries on the database host since
  // the same backend's previous query); the CPU that PostgresConfig::cold_cpu added to them.
  std::uint64_t postgres_queries = 0;
  double postgres_reuse_distance_mean = 0;
  double postgres_cold_cpu_seconds = 0;
  std::uint64_t refused_logins = 0;
  // Kernel
  std::uint64_t accept_queue_resets = 0;
  std::uint64_t migrated = 0;
  std::uint64_t syn_drops = 0;
  std::uint64_t connection_refused = 0;  // no listener in the group
  std::uint64_t port_exhaustion = 0;     // connect() found no free ephemeral port
  // Client-visible errors
  std::uint64_t query_wait_timeouts = 0;
  std::uint64_t max_client_conn_errors = 0;
  std::uint64_t failed_connects = 0;  // gave up after the SYN retries
  // Conservation, over the whole run including the warm-up
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_closed = 0;
  std::uint64_t connections_open_at_end = 0;
  // Hosts
  double pooler_host_utilization = 0;
  // Engine
  std::uint64_t events = 0;
  double wall_s = 0;
  std::vector<TimeseriesRow> timeseries;
};

}  // namespace models
