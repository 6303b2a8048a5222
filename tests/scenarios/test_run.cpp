// Tests of scenarios::run_scenario: replications are independent of how they are spread over threads.
#include <catch2/catch.hpp>

#include "scenarios/run.hpp"
#include "tests/models/world_helpers.hpp"

using namespace rpsim_test;

TEST_CASE("run_scenario: results per replication are identical for 1 and 2 threads", "[run][determinism]") {
  // Replication r of seed s owns its whole world and draws only from streams of (s, r, name), and the results
  // are stored by replication index, so which thread ran it, and in what order, cannot show: each
  // replication's figures are bit-identical with threads = 1 and threads = 2. Replications differ from one
  // another (else the comparison would prove nothing).
  scenarios::Scenario sc;
  sc.name = "determinism";
  sc.world = minimal_world(2, 8);
  sc.world.pooler.default_pool_size = 4;
  sc.world.pooler.cpu.query = Distribution::exponential(20 * kUs);
  sc.world.pooler.cpu.login = Distribution::exponential(60 * kUs);
  sc.world.network.latency = 50 * kUs;
  auto& g = sc.world.clients[0];
  g.count = 16;
  g.think_time = Distribution::exponential(2 * kMs);
  g.server_cpu = Distribution::exponential(300 * kUs);
  g.server_wait = Distribution::exponential(500 * kUs);
  g.lifetime = Distribution::exponential(100 * kMs);
  sc.run.seed = 123;
  sc.run.replications = 5;
  sc.run.warmup = 50 * kMs;
  sc.run.duration = 1 * sim::kSecond;

  scenarios::RunOptions one, two;
  one.threads = 1;
  two.threads = 2;
  const scenarios::RunOutput a = scenarios::run_scenario(sc, one);
  const scenarios::RunOutput b = scenarios::run_scenario(sc, two);
  REQUIRE(a.replications.size() == 5);
  REQUIRE(b.replications.size() == 5);
  for (std::size_t r = 0; r < 5; ++r) {
    INFO("replication " << r);
    REQUIRE(a.replications[r].transactions > 1000);
    check_identical(a.replications[r], b.replications[r]);
  }
  CHECK(a.replications[0].latency.mean() != a.replications[1].latency.mean());
  CHECK(a.replications[0].events != a.replications[1].events);
}
