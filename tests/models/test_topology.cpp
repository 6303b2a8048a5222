// Tests of the topology check: reachability and pinning, with the expected problems stated before each check.
#include <catch2/catch.hpp>

#include <sstream>

#include "models/topology.hpp"

namespace {
models::WorldConfig small_world() {
  models::WorldConfig w;
  w.hosts = {{"pooler", 0x0a000001, 2, 2, 1.2}, {"db", 0x0a00000a, 4, 1, 1.2}, {"client", 0x0a000064, 4, 1, 1.2}};
  w.pooler.host = "pooler";
  w.postgres.host = "db";
  w.pooler.processes = 2;
  models::ClientGroupConfig g;
  g.name = "app";
  g.hosts = {"client"};
  w.clients = {g};
  return w;
}
}  // namespace

TEST_CASE("a sound topology has no problems", "[topology]") {
  // Expected: clients -> listeners -> 2 processes -> pools -> postgres; all reachable, no pinning: no problems.
  REQUIRE(models::check_topology(small_world()).empty());
}

TEST_CASE("pinning to a cpu the pooler host lacks is named by its location", "[topology]") {
  // The pooler host has 2 cores x 2 threads = cpus 0-3, so cpu 9 of process 1 is at /pooler/pinning/1/0.
  auto w = small_world();
  w.pooler.pinning = {{0}, {9}};
  auto problems = models::check_topology(w);
  REQUIRE(problems.size() == 1);
  REQUIRE(problems[0].where == "/pooler/pinning/1/0");
  REQUIRE(problems[0].message.find("cpus 0-3") != std::string::npos);
}

TEST_CASE("client groups without hosts or with unknown hosts cannot reach Postgres", "[topology]") {
  // A group whose only host is unknown has no edge to any listener: four problems, in order: the unknown host,
  // the group that cannot reach Postgres, then processes 0 and 1 that no group reaches.
  auto w = small_world();
  w.clients[0].hosts = {"nowhere"};
  auto problems = models::check_topology(w);
  REQUIRE(problems.size() == 4);
  REQUIRE(problems[0].where == "/clients/0/hosts/0");
  REQUIRE(problems[1].message.find("cannot reach Postgres") != std::string::npos);
  REQUIRE(problems[2].message == "process 0 is reachable from no client group");
  REQUIRE(problems[3].message == "process 1 is reachable from no client group");
}

TEST_CASE("no client groups leaves every process unreachable", "[topology]") {
  auto w = small_world();
  w.clients.clear();
  auto problems = models::check_topology(w);
  REQUIRE(problems.size() == 1);
  REQUIRE(problems[0].where == "/clients");
}

TEST_CASE("the DOT export names every process and pool", "[topology]") {
  // 2 processes x 1 (database, user) pair: 2 process boxes and 2 pool cylinders.
  std::ostringstream dot;
  models::write_topology_dot(dot, small_world());
  const std::string s = dot.str();
  REQUIRE(s.find("process 1") != std::string::npos);
  REQUIRE(s.find("pool app/app of 1") != std::string::npos);
  REQUIRE(s.find("digraph") != std::string::npos);
}
