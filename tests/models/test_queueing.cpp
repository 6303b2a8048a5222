// Queueing cross-checks: the simulated world against M/M/1, M/M/c (Erlang C) and exact MVA of a closed
// network. Each case states the closed-form answer and where it comes from before asserting that it lies
// inside the 95% confidence interval of the replications' means.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "models/analytic.hpp"
#include "tests/models/world_helpers.hpp"

namespace an = models::analytic;
using Catch::Matchers::WithinAbs;
using namespace rpsim_test;

namespace {

// Every case warms up long enough to forget the empty start (hundreds of relaxation times) and measures
// seconds of simulated time over independent replications.
constexpr Time kWarmup = 2 * sim::kSecond;

}  // namespace

TEST_CASE("M/M/1: one pooler process with exponential query cost", "[queueing]") {
  // The pooler's single event loop is the only server: exponential cpu.query (mean S), cpu.result and
  // everything else zero, a pool far larger than the number in system. Arrivals: 200 open-loop clients, each
  // Poisson, so the superposition is Poisson at lambda. A client's next transaction waits for its previous
  // one, but latency is measured from its scheduled start, and a held-back transaction exists only while its
  // predecessor is in service or queued, so the server never idles with work pending: the server is
  // work-conserving and does not look at service times, so with exponential service the number in system is
  // the M/M/1 birth-death chain and the mean latency is the M/M/1 mean response 1 / (mu - lambda).
  const double s = 1e-3;  // mean service, seconds
  const double rho = GENERATE(0.5, 0.8);
  WorldConfig w = minimal_world(1);
  w.pooler.cpu.query = Distribution::exponential(static_cast<Time>(s * 1e9));
  make_open_loop(w.clients[0], 200, rho / s);
  const Replications r = replicate(w, 20, kWarmup, 100 * sim::kSecond);

  // Expected: W = 1 / (mu - lambda) = S / (1 - rho): 2 ms at rho = 0.5, 5 ms at rho = 0.8 (analytic::mm1).
  const double expected = an::mm1_mean_response(rho / s, 1 / s);
  INFO("rho " << rho << ": simulated " << r.latency_mean_s.mean() * 1e3 << " ms +- "
              << r.latency_mean_s.ci95() * 1e3 << ", M/M/1 " << expected * 1e3 << " ms");
  CHECK_THAT(expected, WithinAbs(r.latency_mean_s.mean(), r.latency_mean_s.ci95()));
  // And the offered load is what was asked for: throughput lambda within its CI.
  CHECK_THAT(rho / s, WithinAbs(r.throughput_tps.mean(), r.throughput_tps.ci95()));
}

TEST_CASE("M/M/c (Erlang C): a pool of c servers with exponential backend CPU", "[queueing]") {
  // Pooler CPU zero, so the pool's FIFO wait queue in front of c server connections is the queue; each
  // backend's exponential server_cpu (mean S) runs alone on its own core of a db host with c single-thread
  // cores, at full speed. 1000 open-loop clients: the per-client rate is so small (rho * c / 1000 per S) that
  // a client almost never has a second transaction due while its first is in service, so arrivals to the
  // queue are Poisson. Expected: the M/M/c mean response W = C(c, a) / (c mu - lambda) + 1 / mu (Erlang C,
  // analytic::mmc).
  const double s = 1e-3;
  const int c = GENERATE(2, 4);
  const double rho = 0.8;
  const double lambda = rho * c / s;
  WorldConfig w = minimal_world(1, c);
  w.pooler.default_pool_size = c;
  w.clients[0].server_cpu = Distribution::exponential(static_cast<Time>(s * 1e9));
  make_open_loop(w.clients[0], 1000, lambda);
  const Replications r = replicate(w, 16, kWarmup, 50 * sim::kSecond);

  // c = 2: a = 1.6, C(2, 1.6) = 0.7111, W = 0.7111 / 400 + 1 ms = 2.778 ms;
  // c = 4: a = 3.2, C(4, 3.2) = 0.5964, W = 0.5964 / 800 + 1 ms = 1.746 ms.
  const double expected = an::mmc_mean_response(lambda, 1 / s, c);
  INFO("c " << c << ": simulated " << r.latency_mean_s.mean() * 1e3 << " ms +- "
            << r.latency_mean_s.ci95() * 1e3 << ", Erlang C " << expected * 1e3 << " ms");
  CHECK_THAT(expected, WithinAbs(r.latency_mean_s.mean(), r.latency_mean_s.ci95()));
  // The pool never grew past c servers (the multi-server station really has c servers).
  for (const auto& run : r.runs) CHECK(run.processes[0].servers_max == c);
}

TEST_CASE("Closed network: clients, one pooler CPU and a pool of P servers against exact MVA", "[queueing]") {
  // N closed-loop clients think (exponential, mean Z), then one query goes through the pooler process's event
  // loop pinned to cpu 0 (exponential cpu.query, mean S1; FIFO), then through the pool's FIFO queue into one
  // of P server connections (exponential server_cpu, mean S2, each backend alone on one of >= P db cores),
  // and back with zero-cost result forwarding. That is the product-form network {delay Z, FCFS queue S1,
  // P-server FCFS station S2}; exact MVA (analytic::mva) gives its throughput X and mean response time R = N
  // / X - Z, which is what the simulator measures from the end of a think to the end of the transaction.
  struct Case {
    int n, p;
  };
  const Case k = GENERATE(Case{5, 2}, Case{20, 4}, Case{40, 4}, Case{30, 8});
  const double z = 10e-3, s1 = 0.25e-3, s2 = 2e-3;
  WorldConfig w = minimal_world(1, 8);
  w.pooler.pinning = {{0}};
  w.pooler.default_pool_size = k.p;
  w.pooler.cpu.query = Distribution::exponential(static_cast<Time>(s1 * 1e9));
  auto& g = w.clients[0];
  g.count = k.n;
  g.think_time = Distribution::exponential(static_cast<Time>(z * 1e9));
  g.server_cpu = Distribution::exponential(static_cast<Time>(s2 * 1e9));
  const Replications r = replicate(w, 10, kWarmup, 20 * sim::kSecond);

  const an::MvaResult mva = an::mva(
      {{an::MvaStation::kDelay, z}, {an::MvaStation::kQueue, s1}, {an::MvaStation::kMultiServer, s2, k.p}},
      k.n);
  // Expected (exact MVA): (N, P) = (5, 2): X = 402.2/s, R = 2.432 ms; (20, 4): X = 1542.3/s, R = 2.967 ms;
  // (40, 4), a saturated pool: X = 1999.3/s (bound P / S2 = 2000/s), R = 10.007 ms; (30, 8): X = 2380.3/s,
  // R = 2.603 ms.
  INFO("N " << k.n << " P " << k.p << ": X " << r.throughput_tps.mean() << " +- " << r.throughput_tps.ci95()
            << " vs MVA " << mva.throughput << "; R " << r.latency_mean_s.mean() * 1e3 << " +- "
            << r.latency_mean_s.ci95() * 1e3 << " ms vs MVA " << mva.response_time * 1e3 << " ms");
  CHECK_THAT(mva.throughput, WithinAbs(r.throughput_tps.mean(), r.throughput_tps.ci95()));
  CHECK_THAT(mva.response_time, WithinAbs(r.latency_mean_s.mean(), r.latency_mean_s.ci95()));
}
