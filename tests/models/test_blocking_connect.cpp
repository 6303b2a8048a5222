// Tests of blocking connections (pgbench's synchronous libpq connect): a blocked event loop runs nothing until it
// is unblocked, and a client thread whose connections block completes transactions at the closed-form rate.
// Each case states what it expects, and why, before asserting.
#include <catch2/catch.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include "models/cpu.hpp"
#include "sim/simulation.hpp"
#include "tests/models/cpu_helpers.hpp"
#include "tests/models/world_helpers.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using namespace rpsim_test;

namespace {

// Per-transaction clients on their own host, one thread unless told, 50 us one way between hosts; every pooler
// and Postgres cost zero, so a connection takes 4 one-way trips (SYN; SYN-ACK and the ACK carrying the startup
// packet; the login's answer) = 200 us, plus the group's connect_cpu, and a transaction (query to the pooler, to
// the backend, server_wait, the result back twice) 4 x 50 us + server_wait.
WorldConfig churn_world(int clients, Time connect_cpu, bool blocking) {
  WorldConfig w = minimal_world(1, 8);
  w.network.latency = 50 * kUs;
  auto& g = w.clients[0];
  g.count = clients;
  g.connection = models::ConnectionMode::kPerTransaction;
  g.server_wait = Distribution::constant(1050 * kUs);
  g.connect_cpu = Distribution::constant(connect_cpu);
  g.blocking_connect = blocking;
  return w;
}

}  // namespace

TEST_CASE("EventLoop: a blocked loop finishes the item under way, then starts nothing until unblocked",
          "[world][cpu][blocking]") {
  // Item 1 (100 ns) runs alone; the loop is blocked at 50 ns, while it runs. Item 2 (zero cost) and item 3
  // (200 ns) posted at 50 ns queue, the zero-cost one too. Item 1 still ends at 100 ns; nothing runs until the
  // unblock at 300 ns, when item 2 completes at once and item 3 runs from 300 to 500 ns, in posting order.
  sim::Simulation s;
  models::Cpu cpu(s, host(1, 1));
  LoopLog log(s);
  models::EventLoop loop(s, cpu, log, {});
  loop.post(0, 1, 100);
  s.run_until(50);
  loop.block();
  loop.post(0, 2, 0);
  loop.post(0, 3, 200);
  s.run_until(300);
  using P = std::pair<std::uint64_t, Time>;
  CHECK(log.done == std::vector<P>{{1, 100}});
  CHECK(loop.queued() == 2);
  CHECK(loop.blocked());
  loop.unblock();
  s.run();
  CHECK(log.done == std::vector<P>{{1, 100}, {2, 300}, {3, 500}});
  CHECK(!loop.blocked());
}

TEST_CASE("EventLoop: post_first puts an item ahead of the queue, to run next", "[world][cpu][blocking]") {
  // Blocked from the start, the loop queues item 1 (100 ns) and item 2 (zero cost); item 3 (50 ns) is posted with
  // post_first, as a blocking connect's first query is. At the unblock (at 200 ns) item 3 runs first, 200-250, then
  // items 1 (250-350) and 2 (at once, 350) in their posting order; item 1's end is reported after item 2, which
  // the loop takes up before it delivers a finished item's effects (EventLoop::burst_done).
  sim::Simulation s;
  models::Cpu cpu(s, host(1, 1));
  LoopLog log(s);
  models::EventLoop loop(s, cpu, log, {});
  loop.block();
  loop.post(0, 1, 100);
  loop.post(0, 2, 0);
  loop.post_first(0, 3, 50);
  s.run_until(200);
  CHECK(log.done.empty());
  loop.unblock();
  s.run();
  using P = std::pair<std::uint64_t, Time>;
  CHECK(log.done == std::vector<P>{{3, 250}, {2, 350}, {1, 350}});
}

TEST_CASE("Blocking connect: the first query's send_cpu runs as the connect returns, ahead of queued work",
          "[world][clients][blocking]") {
  // Two clients on one thread, both starting at 0: connection c = 200 us, send_cpu s = 30 us, transaction
  // t = 200 + 1050 = 1250 us (churn_world) plus 100 us for a server connection (the pool is empty and A's server
  // is busy when B's query comes: the first two transactions open one each, SYN and SYN-ACK at 50 us), reading a
  // result costs 0. A connects 0-200 while B's connection waits for the thread. pgbench sends a connection's first
  // query as the connect returns, so A sends 200-230, then B connects 230-430 and sends 430-460. A's result
  // arrives at 230 + 1350 = 1580 and B's at 1810, each read at once (the thread is idle, or ends a burst then):
  // both wait s + t + 100 = 1380 us from the end of their connection, pgbench -C's logged latency. The window
  // (1.9 ms) holds these two transactions only: A's next ends after 1580 + 200 + 30 + 1250. Had A's send queued
  // behind B's waiting connection (400-430), A's would be 1580 us.
  WorldConfig w = churn_world(2, 0, true);
  w.clients[0].send_cpu = Distribution::constant(30 * kUs);
  models::World world(w, 1, 0);
  const models::RunResult r = world.run(0, 1900 * kUs);
  REQUIRE(r.transactions == 2);
  CHECK_THAT(r.latency_after_connect.mean(), WithinAbs(1.38e6, 1.0));
  // From the requests at 0: A's 1580 us, B's 1810 us.
  CHECK_THAT(r.latency.mean(), WithinAbs(1.695e6, 1.0));
}

TEST_CASE("Blocking connect: a thread of k clients completes one transaction per max(c, (c + t) / k)",
          "[world][clients][blocking]") {
  // Connection c = connect_cpu + 200 us, transaction t = 200 us + 1050 us = 1250 us (churn_world), client CPU 0.
  // A thread that blocks on each connection is busy c per transaction, so with k clients it completes
  // min(1 / c, k / (c + t)) transactions per second (deterministic times: the bound is reached).
  const Time warmup = 50 * kMs, duration = 1 * sim::kSecond;
  SECTION("10 clients, c = 200 us: the connections set the pace, 1 / c = 5000 tps, not 10 / 1.45 ms = 6897") {
    const auto blocking = replicate(churn_world(10, 0, true), 1, warmup, duration);
    CHECK_THAT(blocking.throughput_tps.mean(), WithinRel(5000.0, 0.005));
    // Every connection takes exactly 200 us (nothing queues on the way); each client's cycle is k / X = 2 ms,
    // all of it counted as latency (the transaction waits for its connection and its thread). From the login,
    // a transaction's result lands 1250 us on, 50 us into another client's connection (they end every 200 us).
    // The thread takes its queue in order: when that connection ends (1400 us), the result read there before
    // ours posted its client's next connection, which is ahead of ours and runs first; ours is read when that
    // one ends, at 1600 us. (1600 + a 200 us wait for its own connection + 200 us connecting = the 2 ms cycle.)
    const auto& r = blocking.runs[0];
    CHECK_THAT(r.connect_time.mean(), WithinAbs(200'000.0, 1.0));
    CHECK_THAT(r.latency.mean(), WithinRel(2.0e6, 0.005));
    CHECK_THAT(r.latency_after_connect.mean(), WithinAbs(1.6e6, 1.0));
    // Without blocking, connections overlap and nothing queues: 10 / (c + t) = 6897 tps, latency c + t.
    const auto overlapped = replicate(churn_world(10, 0, false), 1, warmup, duration);
    CHECK_THAT(overlapped.throughput_tps.mean(), WithinRel(10.0 / 1.45e-3, 0.005));
    CHECK_THAT(overlapped.runs[0].latency.mean(), WithinAbs(1.45e6, 1.0));
    CHECK_THAT(overlapped.runs[0].latency_after_connect.mean(), WithinAbs(1.25e6, 1.0));
  }
  SECTION("connect_cpu 100 us makes c = 300 us: 10 clients give 1 / c = 3333 tps") {
    const auto r = replicate(churn_world(10, 100 * kUs, true), 1, warmup, duration);
    CHECK_THAT(r.throughput_tps.mean(), WithinRel(1e6 / 300.0, 0.005));
    CHECK_THAT(r.runs[0].connect_time.mean(), WithinAbs(300'000.0, 1.0));
  }
  SECTION("2 clients, c = 300 us: the clients set the pace, 2 / (c + t) = 1290 tps; the thread is rarely busy") {
    const auto r = replicate(churn_world(2, 100 * kUs, true), 1, warmup, duration);
    CHECK_THAT(r.throughput_tps.mean(), WithinRel(2.0 / 1.55e-3, 0.005));
  }
  SECTION("2 threads of 5 clients, c = 200 us: per thread min(1 / c, 5 / (c + t)), 6897 tps in all") {
    WorldConfig w = churn_world(10, 0, true);
    w.hosts[2].cores = 2;  // one core per thread, so their CPU work (none here) could not interfere
    w.clients[0].client_threads = 2;
    const auto r = replicate(w, 1, warmup, duration);
    // Per thread min(1 / 200 us, 5 / 1.45 ms) = min(5000, 3448) = 3448: the clients set the pace, 6897 in all.
    CHECK_THAT(r.throughput_tps.mean(), WithinRel(10.0 / 1.45e-3, 0.005));
  }
}

TEST_CASE("Blocking connect: failed connections return their thread (restarts with resets and refusals)",
          "[world][clients][blocking]") {
  // One process restarted in disconnect mode with 20 ms of downtime while 8 blocking clients churn: connects in
  // that window are refused (no listener) or reset from the accept queue. A failed connect must unblock its
  // thread, or the thread would stop for good: expect errors during the restart and transactions after it, in
  // the second half of the run, at the unhindered rate of about 5000 tps (1 / c as above).
  WorldConfig w = churn_world(8, 0, true);
  w.clients[0].reconnect_delay = Distribution::constant(1 * kMs);
  models::RestartConfig rc;
  rc.at = 100 * kMs;
  rc.process = 0;
  rc.mode = models::RestartMode::kDisconnect;
  rc.downtime = 20 * kMs;
  w.restarts = {rc};
  models::World world(w, 7, 0);
  const models::RunResult r = world.run(90 * kMs, 400 * kMs);
  CHECK(r.connection_refused + r.accept_queue_resets > 0);
  // 400 ms measured, of which about 30 ms without a listener (20 ms downtime + the error back-off): at least
  // 5000 tps x 0.3 s = 1500 transactions, far more than a thread stuck after the restart could do.
  CHECK(r.transactions > 1500);
}
