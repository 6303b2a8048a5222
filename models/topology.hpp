// The world's topology as a Boost.Graph (hosts, client groups, listener groups, processes, pools, Postgres),
// checked before a world is built: every client group must reach Postgres and every CPU named must exist.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "models/config.hpp"

namespace models {

struct TopologyProblem {
  std::string where;  // a JSON-pointer-like location in the scenario, e.g. /pooler/pinning/1/0
  std::string message;
};

// All problems found, in a fixed order (empty when the topology is sound).
[[nodiscard]] std::vector<TopologyProblem> check_topology(const WorldConfig& config);

// The graph in Graphviz DOT, for teaching and for checking a scenario by eye.
void write_topology_dot(std::ostream& out, const WorldConfig& config);

}  // namespace models
