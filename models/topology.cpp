// Building the topology graph and checking it with a breadth-first search.
#include "models/topology.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/graphviz.hpp>
#include <algorithm>

namespace models {

namespace {

struct Node {
  std::string name;
  std::string kind;  // host, clients, listeners, process, pool, postgres
};
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, Node>;
using Vertex = boost::graph_traits<Graph>::vertex_descriptor;

struct Built {
  Graph g;
  std::vector<Vertex> groups;     // client groups
  std::vector<Vertex> processes;  // global process index
  Vertex postgres{};
  std::vector<TopologyProblem> problems;
};

int find_host(const WorldConfig& c, const std::string& name) {
  for (std::size_t i = 0; i < c.hosts.size(); ++i) {
    if (c.hosts[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Built build(const WorldConfig& c) {
  Built b;
  auto add = [&](std::string name, std::string kind) { return boost::add_vertex(Node{std::move(name), std::move(kind)}, b.g); };
  std::vector<Vertex> hosts;
  for (const auto& h : c.hosts) hosts.push_back(add(h.name, "host"));

  const int pooler_host = find_host(c, c.pooler.host);
  const int db_host = find_host(c, c.postgres.host);
  if (pooler_host < 0) b.problems.push_back({"/pooler/host", "no host named \"" + c.pooler.host + "\""});
  if (db_host < 0) b.problems.push_back({"/postgres/host", "no host named \"" + c.postgres.host + "\""});

  b.postgres = add("postgres", "postgres");
  if (db_host >= 0) boost::add_edge(b.postgres, hosts[db_host], b.g);

  // Pools are per (database, user) pair and per process.
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& g : c.clients) {
    if (std::find(keys.begin(), keys.end(), std::pair{g.database, g.user}) == keys.end()) keys.emplace_back(g.database, g.user);
  }
  std::vector<Vertex> listeners;
  for (int pod = 0; pod < c.pooler.pods; ++pod) {
    listeners.push_back(add("listeners pod " + std::to_string(pod) + " :" + std::to_string(c.pooler.listen_port), "listeners"));
  }
  const int cpus = pooler_host >= 0 ? c.hosts[pooler_host].cpus() : 0;
  for (int pod = 0; pod < c.pooler.pods; ++pod) {
    for (int k = 0; k < c.pooler.processes; ++k) {
      const int index = pod * c.pooler.processes + k;
      Vertex p = add("process " + std::to_string(index), "process");
      b.processes.push_back(p);
      boost::add_edge(listeners[pod], p, b.g);
      if (pooler_host >= 0) boost::add_edge(p, hosts[pooler_host], b.g);
      for (const auto& [db, user] : keys) {
        Vertex pool = add("pool " + db + "/" + user + " of " + std::to_string(index), "pool");
        boost::add_edge(p, pool, b.g);
        boost::add_edge(pool, b.postgres, b.g);
      }
    }
  }
  // Pinning names CPUs of the pooler host.
  if (!c.pooler.pinning.empty() && static_cast<int>(c.pooler.pinning.size()) != c.pooler.processes) {
    b.problems.push_back({"/pooler/pinning", "has " + std::to_string(c.pooler.pinning.size()) +
                                                 " entries for " + std::to_string(c.pooler.processes) + " processes"});
  }
  for (std::size_t k = 0; k < c.pooler.pinning.size(); ++k) {
    for (std::size_t j = 0; j < c.pooler.pinning[k].size(); ++j) {
      const int cpu = c.pooler.pinning[k][j];
      if (pooler_host >= 0 && (cpu < 0 || cpu >= cpus)) {
        b.problems.push_back({"/pooler/pinning/" + std::to_string(k) + "/" + std::to_string(j),
                              "cpu " + std::to_string(cpu) + " does not exist on host \"" + c.pooler.host +
                                  "\" (it has cpus 0-" + std::to_string(cpus - 1) + ")"});
      }
    }
  }
  for (std::size_t g = 0; g < c.clients.size(); ++g) {
    const auto& gc = c.clients[g];
    Vertex v = add("clients " + gc.name + " x" + std::to_string(gc.count), "clients");
    b.groups.push_back(v);
    if (gc.hosts.empty()) b.problems.push_back({"/clients/" + std::to_string(g) + "/hosts", "names no host"});
    for (std::size_t h = 0; h < gc.hosts.size(); ++h) {
      const int hi = find_host(c, gc.hosts[h]);
      if (hi < 0) {
        b.problems.push_back({"/clients/" + std::to_string(g) + "/hosts/" + std::to_string(h),
                              "no host named \"" + gc.hosts[h] + "\""});
        continue;
      }
      boost::add_edge(v, hosts[hi], b.g);
      // Every host reaches the pooler's address: the Service (or the one pod) spreads connections over pods.
      for (Vertex l : listeners) boost::add_edge(v, l, b.g);
    }
  }
  return b;
}

}  // namespace

std::vector<TopologyProblem> check_topology(const WorldConfig& config) {
  Built b = build(config);
  if (config.clients.empty()) b.problems.push_back({"/clients", "no client groups: nothing would connect"});
  const auto n = boost::num_vertices(b.g);
  std::vector<bool> reached_by_any(n, false);
  for (std::size_t g = 0; g < b.groups.size(); ++g) {
    std::vector<boost::default_color_type> color(n);
    std::vector<bool> seen(n, false);
    struct Visitor : boost::default_bfs_visitor {
      std::vector<bool>* seen;
      void discover_vertex(Vertex v, const Graph&) const { (*seen)[v] = true; }
    } visitor;
    visitor.seen = &seen;
    boost::breadth_first_search(b.g, b.groups[g],
                                boost::visitor(visitor).color_map(boost::make_iterator_property_map(
                                    color.begin(), boost::get(boost::vertex_index, b.g))));
    if (!seen[b.postgres]) {
      b.problems.push_back({"/clients/" + std::to_string(g), "client group \"" + config.clients[g].name +
                                                                 "\" cannot reach Postgres through any pooler process"});
    }
    for (std::size_t v = 0; v < n; ++v) reached_by_any[v] = reached_by_any[v] || seen[v];
  }
  if (!config.clients.empty()) {
    for (std::size_t p = 0; p < b.processes.size(); ++p) {
      if (!reached_by_any[b.processes[p]]) {
        b.problems.push_back({"/pooler", "process " + std::to_string(p) + " is reachable from no client group"});
      }
    }
  }
  return b.problems;
}

void write_topology_dot(std::ostream& out, const WorldConfig& config) {
  const Built b = build(config);
  boost::write_graphviz(out, b.g, [&](std::ostream& o, Vertex v) {
    const Node& node = b.g[v];
    const char* shape = node.kind == "host" ? "box3d" : node.kind == "process" ? "box" : node.kind == "pool" ? "cylinder" : "ellipse";
    o << "[label=\"" << node.name << "\", shape=" << shape << "]";
  });
}

}  // namespace models
