// Validation and conversion of a scenario document into a Scenario, stopping at the first problem with its
// JSON path.
#include "scenarios/json.hpp"

#include "models/topology.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "scenarios/json_detail.hpp"

namespace scenarios {
namespace {

using detail::child_pointer;
using detail::fail;
using detail::in_quotes;
using detail::show;
using nlohmann::json;
using sim::Time;

constexpr int kMaxProcesses =
    1024;  // a bound so that a typo like 40000 fails fast instead of exhausting memory

enum class Sign { kNonNegative, kPositive };

std::string format_bound(double x) {
  return x == std::floor(x) ? std::to_string(static_cast<long long>(x)) : json(x).dump();
}

// One JSON object of the format: checks its keys on construction, then reads typed fields with defaults.
class Section {
 public:
  Section(const json* value, std::string where, const std::string& generic) : where_(std::move(where)) {
    if (value == nullptr) return;  // an absent section reads as all defaults
    detail::expect_object(*value, where_);
    detail::check_keys(*value, where_, known_keys(generic));
    value_ = value;
  }

  [[nodiscard]] const std::string& where() const { return where_; }
  [[nodiscard]] bool has(const std::string& key) const { return value_ != nullptr && value_->contains(key); }
  [[nodiscard]] const json* get(const std::string& key) const {
    return has(key) ? &value_->at(key) : nullptr;
  }
  [[nodiscard]] std::string at(const std::string& key) const { return child_pointer(where_, key); }

  [[nodiscard]] int integer(const std::string& key, int fallback, std::int64_t min, std::int64_t max) const {
    return has(key) ? static_cast<int>(detail::parse_integer(value_->at(key), at(key), min, max)) : fallback;
  }
  [[nodiscard]] bool boolean(const std::string& key, bool fallback) const {
    return has(key) ? detail::parse_bool(value_->at(key), at(key)) : fallback;
  }
  [[nodiscard]] std::string string(const std::string& key, std::string fallback,
                                   bool allow_empty = false) const {
    if (!has(key)) return fallback;
    std::string s = detail::parse_string(value_->at(key), at(key));
    if (s.empty() && !allow_empty) fail(at(key), "must not be empty");
    return s;
  }
  // A number strictly above `min` (rates, weights and throughputs have no meaningful zero).
  [[nodiscard]] double number_above(const std::string& key, double fallback, double min) const {
    if (!has(key)) return fallback;
    const double x = detail::parse_number(value_->at(key), at(key));
    if (!(x > min) || !std::isfinite(x))
      fail(at(key), "must be greater than " + format_bound(min) + ", got " + show(value_->at(key)));
    return x;
  }
  template <class E>
  [[nodiscard]] E choice(const std::string& key, E fallback,
                         const std::vector<std::pair<std::string, E>>& options) const {
    if (!has(key)) return fallback;
    std::vector<std::string> names;
    for (const auto& o : options) names.push_back(o.first);
    return options[detail::parse_choice(value_->at(key), at(key), names)].second;
  }
  [[nodiscard]] Time duration(const std::string& key, Time fallback, Sign sign) const {
    if (!has(key)) return fallback;
    const Time t = parse_duration(value_->at(key), at(key));
    if (sign == Sign::kPositive && t <= 0)
      fail(at(key), "must be greater than 0, got " + show(value_->at(key)));
    return t;
  }
  [[nodiscard]] sim::Distribution distribution(const std::string& key, sim::Distribution fallback) const {
    return has(key) ? parse_distribution(value_->at(key), at(key)) : fallback;
  }

 private:
  const json* value_ = nullptr;
  std::string where_;
};

const json* member(const json& doc, const std::string& key) {
  return doc.contains(key) ? &doc.at(key) : nullptr;
}

// An array section: null when absent, else checked to be an array.
const json* array_member(const json& doc, const std::string& key) {
  const json* a = member(doc, key);
  if (a != nullptr && !a->is_array()) fail(child_pointer("", key), "expected an array, got " + show(*a));
  return a;
}

std::vector<models::HostConfig> default_hosts() {
  std::vector<models::HostConfig> hosts(3);
  hosts[0] = {.name = "pooler", .address = 0x0a000001, .cores = 4, .threads_per_core = 2};
  hosts[1] = {.name = "db", .address = 0x0a00000a, .cores = 8, .threads_per_core = 1};
  hosts[2] = {.name = "client", .address = 0x0a000064, .cores = 8, .threads_per_core = 1};
  return hosts;
}

std::vector<models::HostConfig> parse_hosts(const json& doc) {
  const json* list = array_member(doc, "hosts");
  if (list == nullptr) return default_hosts();
  if (list->empty()) fail("/hosts", "needs at least one host (leave \"hosts\" out for the default set)");
  std::vector<models::HostConfig> hosts;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Section s(&(*list)[i], child_pointer("/hosts", i), "/hosts/*");
    models::HostConfig h;
    if (!s.has("name")) fail(s.at("name"), "missing (every host needs a name)");
    h.name = s.string("name", "");
    if (!s.has("address"))
      fail(s.at("address"), "missing (every host needs an IPv4 address such as \"10.0.0.1\")");
    h.address = parse_ipv4(*s.get("address"), s.at("address"));
    for (const auto& other : hosts) {
      if (other.name == h.name) fail(s.at("name"), "host " + in_quotes(h.name) + " is defined twice");
      if (other.address == h.address) {
        fail(s.at("address"),
             "address " + format_ipv4(h.address) + " is already used by host " + in_quotes(other.name));
      }
    }
    h.cores = s.integer("cores", h.cores, 1, 4096);
    h.threads_per_core = s.integer("threads_per_core", h.threads_per_core, 1, 8);
    h.smt_pair_throughput = s.number_above("smt_pair_throughput", h.smt_pair_throughput, 0);
    if (h.smt_pair_throughput > 2) {
      fail(s.at("smt_pair_throughput"),
           "must be at most 2 (two threads cannot do more than two threads' work), got " +
               show(*s.get("smt_pair_throughput")));
    }
    h.timeslice = s.duration("timeslice", h.timeslice, Sign::kNonNegative);
    h.scheduler = s.choice<models::HostConfig::Scheduler>(
        "scheduler", h.scheduler,
        {{"fifo", models::HostConfig::Scheduler::kFifo}, {"eevdf", models::HostConfig::Scheduler::kEevdf}});
    if (h.scheduler == models::HostConfig::Scheduler::kEevdf && h.timeslice == 0) {
      fail(s.at("scheduler"), "\"eevdf\" needs a run queue: set timeslice above 0");
    }
    h.idle_wakeup = s.duration("idle_wakeup", h.idle_wakeup, Sign::kNonNegative);
    h.wakeup_latency = s.duration("wakeup_latency", h.wakeup_latency, Sign::kNonNegative);
    h.ipi_wakeup = s.duration("ipi_wakeup", h.ipi_wakeup, Sign::kNonNegative);
    if (h.ipi_wakeup > 0 && h.scheduler != models::HostConfig::Scheduler::kEevdf) {
      fail(s.at("ipi_wakeup"), "needs the EEVDF run queue, which decides preemption: set scheduler \"eevdf\"");
    }
    h.cross_cpu_message = s.duration("cross_cpu_message", h.cross_cpu_message, Sign::kNonNegative);
    if (h.cross_cpu_message > 0 && h.timeslice == 0) {
      fail(s.at("cross_cpu_message"), "needs a run queue, which knows the sending cpu: set timeslice above 0");
    }
    hosts.push_back(std::move(h));
  }
  return hosts;
}

class Hosts {
 public:
  explicit Hosts(const std::vector<models::HostConfig>& hosts) : hosts_(hosts) {}

  // `name` as it would be written in the document, so that a default name that matches no host is reported
  // too.
  const models::HostConfig& find(const std::string& name, const std::string& where) const {
    std::vector<std::string> names;
    for (const auto& h : hosts_) {
      if (h.name == name) return h;
      names.push_back(h.name);
    }
    std::string hint = detail::suggestion(name, names);
    if (hint.empty()) hint = " (hosts are " + detail::quoted_list(names) + ")";
    fail(where, "no host named " + in_quotes(name) + hint);
  }

  // The host named at `key` of `s`, or `fallback` when the key is absent.
  const models::HostConfig& reference(const Section& s, const std::string& key,
                                      const std::string& fallback) const {
    return find(s.string(key, fallback), s.at(key));
  }

 private:
  const std::vector<models::HostConfig>& hosts_;
};

RunConfig parse_run(const json& doc) {
  const Section s(member(doc, "run"), "/run", "/run");
  RunConfig run;
  run.duration = s.duration("duration", run.duration, Sign::kPositive);
  run.warmup = s.duration("warmup", run.warmup, Sign::kNonNegative);
  if (s.has("seed")) {
    run.seed = static_cast<std::uint64_t>(
        detail::parse_integer(*s.get("seed"), s.at("seed"), 0, std::numeric_limits<std::int64_t>::max()));
  }
  run.replications = s.integer("replications", run.replications, 1, 10000);
  return run;
}

models::NetworkConfig parse_network(const json& doc) {
  const Section s(member(doc, "network"), "/network", "/network");
  models::NetworkConfig n;
  n.latency = s.duration("latency", n.latency, Sign::kNonNegative);
  n.loopback_latency = s.duration("loopback_latency", n.loopback_latency, Sign::kNonNegative);
  n.softirq_per_packet = s.duration("softirq_per_packet", n.softirq_per_packet, Sign::kNonNegative);
  n.syn_retry = s.duration("syn_retry", n.syn_retry, Sign::kPositive);
  n.syn_retries = s.integer("syn_retries", n.syn_retries, 0, 255);
  return n;
}

models::KernelConfig parse_kernel(const json& doc) {
  using models::HashFormula;
  using models::Steering;
  const Section s(member(doc, "kernel"), "/kernel", "/kernel");
  models::KernelConfig k;
  k.hash = s.choice<HashFormula>(
      "hash", k.hash, {{"linux-6.15", HashFormula::kLinux615}, {"linux-6.14", HashFormula::kLinux614}});
  k.steering = s.choice<Steering>("steering", k.steering,
                                  {{"hash", Steering::kHash},
                                   {"bpf_cpu", Steering::kBpfCpu},
                                   {"incoming_cpu", Steering::kIncomingCpu},
                                   {"least_connections", Steering::kLeastConnections}});
  k.tcp_migrate_req = s.boolean("tcp_migrate_req", k.tcp_migrate_req);
  k.wildcard_listener = s.boolean("wildcard_listener", k.wildcard_listener);
  k.listen_backlog = s.integer("listen_backlog", k.listen_backlog, 1, 1 << 20);
  if (s.has("hash_secret")) {
    k.hash_secret = static_cast<std::uint32_t>(
        detail::parse_integer(*s.get("hash_secret"), s.at("hash_secret"), 0, 0xffffffffLL));
  }
  if (const json* range = s.get("port_range")) {
    const std::string where = s.at("port_range");
    if (!range->is_array() || range->size() != 2) fail(where, "expected [low, high], got " + show(*range));
    k.port_range_low =
        static_cast<int>(detail::parse_integer((*range)[0], child_pointer(where, 0), 1, 65535));
    k.port_range_high =
        static_cast<int>(detail::parse_integer((*range)[1], child_pointer(where, 1), 1, 65535));
    if (k.port_range_high < k.port_range_low) {
      fail(child_pointer(where, 1), "must be at least low (" + std::to_string(k.port_range_low) + "), got " +
                                        std::to_string(k.port_range_high));
    }
  }
  k.tw_reuse = s.boolean("tw_reuse", k.tw_reuse);
  return k;
}

std::string cpu_range(const models::HostConfig& host) {
  return host.cpus() == 1 ? "cpu 0" : "cpus 0-" + std::to_string(host.cpus() - 1);
}

std::vector<std::vector<int>> parse_pinning(const json& value, const std::string& where, int processes,
                                            const models::HostConfig& host) {
  std::vector<std::vector<int>> pinning;
  if (value.is_string()) {
    const std::size_t mode = detail::parse_choice(value, where, {"none", "cores", "siblings", "shared"});
    const std::string on = " on host " + in_quotes(host.name);
    switch (mode) {
      case 0:
        return pinning;
      case 1:
        if (processes > host.cores) {
          fail(where, "\"cores\" gives each process its own core, but there are " +
                          std::to_string(processes) + " processes and " + std::to_string(host.cores) +
                          " cores" + on);
        }
        for (int k = 0; k < processes; ++k) pinning.push_back({k});
        return pinning;
      case 2:
        if (host.threads_per_core < 2)
          fail(where, "\"siblings\" needs hyperthreads, but host " + in_quotes(host.name) +
                          " has 1 thread per core");
        if ((processes + 1) / 2 > host.cores) {
          fail(where, "\"siblings\" puts two processes on each core, but there are " +
                          std::to_string(processes) + " processes and " + std::to_string(host.cores) +
                          " cores" + on);
        }
        // Linux numbers the second hardware thread of core j as cpu j + cores.
        for (int k = 0; k < processes; ++k) pinning.push_back({k / 2 + (k % 2) * host.cores});
        return pinning;
      default:
        pinning.assign(static_cast<std::size_t>(processes), std::vector<int>{0});
        return pinning;
    }
  }
  if (!value.is_array()) {
    fail(where,
         "expected \"none\", \"cores\", \"siblings\", \"shared\" or one array of cpu ids per process, got " +
             show(value));
  }
  if (value.size() != static_cast<std::size_t>(processes)) {
    fail(where, "has " + std::to_string(value.size()) + " entries but there are " +
                    std::to_string(processes) + " processes (one cpu list per process)");
  }
  const auto cpu = [&](const json& id, const std::string& at) {
    if (id.is_number_integer() && (id.get<std::int64_t>() < 0 || id.get<std::int64_t>() >= host.cpus())) {
      fail(at, "cpu " + show(id) + " does not exist on host " + in_quotes(host.name) + " (it has " +
                   cpu_range(host) + ")");
    }
    return static_cast<int>(detail::parse_integer(id, at, 0, host.cpus() - 1));
  };
  for (std::size_t p = 0; p < value.size(); ++p) {
    const std::string at = child_pointer(where, p);
    const json& entry = value[p];
    std::vector<int> cpus;
    if (entry.is_array()) {
      for (std::size_t j = 0; j < entry.size(); ++j) {
        const int c = cpu(entry[j], child_pointer(at, j));
        if (std::find(cpus.begin(), cpus.end(), c) != cpus.end())
          fail(child_pointer(at, j), "cpu " + std::to_string(c) + " is listed twice");
        cpus.push_back(c);
      }
    } else if (entry.is_number()) {
      cpus.push_back(cpu(entry, at));  // a bare id is shorthand for a one-cpu list
    } else {
      fail(at, "expected an array of cpu ids (empty: left to the OS), got " + show(entry));
    }
    pinning.push_back(std::move(cpus));
  }
  return pinning;
}

models::PoolerConfig parse_pooler(const json& doc, const Hosts& hosts) {
  using models::PoolMode;
  const Section s(member(doc, "pooler"), "/pooler", "/pooler");
  models::PoolerConfig p;
  const models::HostConfig& host = hosts.reference(s, "host", "pooler");
  p.host = host.name;
  p.processes = s.integer("processes", p.processes, 1, kMaxProcesses);
  p.pods = s.integer("pods", p.pods, 1, kMaxProcesses);
  if (p.pods * p.processes > kMaxProcesses) {
    fail(s.at("pods"), "pods x processes must be at most " + std::to_string(kMaxProcesses) + ", got " +
                           std::to_string(p.pods * p.processes));
  }
  if (const json* pin = s.get("pinning")) p.pinning = parse_pinning(*pin, s.at("pinning"), p.processes, host);
  if (s.has("listen_addr")) p.listen_addr = parse_ipv4(*s.get("listen_addr"), s.at("listen_addr"));
  p.listen_port = static_cast<std::uint16_t>(s.integer("listen_port", p.listen_port, 1, 65535));
  p.service_round_robin =
      s.choice<bool>("service_balancing", p.service_round_robin, {{"random", false}, {"round_robin", true}});
  p.pool_mode = s.choice<PoolMode>("pool_mode", p.pool_mode,
                                   {{"session", PoolMode::kSession},
                                    {"transaction", PoolMode::kTransaction},
                                    {"statement", PoolMode::kStatement}});
  if (s.has("pool_size") && s.has("default_pool_size")) {
    fail(s.at("default_pool_size"), "is an alias of pool_size; give only one of them");
  }
  p.default_pool_size =
      s.integer("pool_size", s.integer("default_pool_size", p.default_pool_size, 0, 1 << 20), 0, 1 << 20);
  p.min_pool_size = s.integer("min_pool_size", p.min_pool_size, 0, 1 << 20);
  p.reserve_pool_size = s.integer("reserve_pool_size", p.reserve_pool_size, 0, 1 << 20);
  p.reserve_pool_timeout = s.duration("reserve_pool_timeout", p.reserve_pool_timeout, Sign::kNonNegative);
  p.max_client_conn = s.integer("max_client_conn", p.max_client_conn, 1, 1 << 24);
  p.max_db_connections = s.integer("max_db_connections", p.max_db_connections, 0, 1 << 20);
  p.query_wait_timeout = s.duration("query_wait_timeout", p.query_wait_timeout, Sign::kNonNegative);
  p.server_login_retry = s.duration("server_login_retry", p.server_login_retry, Sign::kPositive);
  p.login_round_trips = s.integer("login_round_trips", p.login_round_trips, 1, 10);
  p.server_round_robin = s.boolean("server_round_robin", p.server_round_robin);
  const Section cpu(s.get("cpu"), s.at("cpu"), "/pooler/cpu");
  p.cpu.query = cpu.distribution("query", p.cpu.query);
  p.cpu.result = cpu.distribution("result", p.cpu.result);
  p.cpu.login = cpu.distribution("login", p.cpu.login);
  p.cpu.server_login = cpu.distribution("server_login", p.cpu.server_login);
  p.cpu.wakeup = cpu.duration("wakeup", p.cpu.wakeup, Sign::kNonNegative);
  return p;
}

// postgres.cold_cpu: [[distance, extra CPU], ...], distances strictly increasing.
std::vector<models::PostgresConfig::ColdPoint> parse_cold_cpu(const Section& s) {
  std::vector<models::PostgresConfig::ColdPoint> points;
  const json* list = s.get("cold_cpu");
  if (list == nullptr) return points;
  const std::string where = s.at("cold_cpu");
  if (!list->is_array()) {
    fail(where, "expected a list of [distance, extra CPU] points such as [[4, \"0us\"], [48, \"8us\"]], got " +
                    show(*list));
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    const std::string at = child_pointer(where, i);
    if (!item.is_array() || item.size() != 2) {
      fail(at, "expected a point [distance, extra CPU] such as [48, \"8us\"], got " + show(item));
    }
    models::PostgresConfig::ColdPoint p;
    p.distance = detail::parse_integer(item[0], child_pointer(at, 0), 0, std::int64_t{1} << 40);
    p.extra = parse_duration(item[1], child_pointer(at, 1));
    if (p.extra < 0) fail(child_pointer(at, 1), "must not be negative, got " + show(item[1]));
    if (!points.empty() && p.distance <= points.back().distance) {
      fail(child_pointer(at, 0), "must be greater than the previous point's distance (" +
                                     std::to_string(points.back().distance) + "), got " + show(item[0]));
    }
    points.push_back(p);
  }
  return points;
}

models::PostgresConfig parse_postgres(const json& doc, const Hosts& hosts) {
  const Section s(member(doc, "postgres"), "/postgres", "/postgres");
  models::PostgresConfig pg;
  pg.host = hosts.reference(s, "host", "db").name;
  pg.max_connections = s.integer("max_connections", pg.max_connections, 1, 1 << 20);
  pg.backend_startup = s.distribution("backend_startup", pg.backend_startup);
  pg.reset_query = s.distribution("reset_query", pg.reset_query);
  pg.cold_cpu = parse_cold_cpu(s);
  return pg;
}

models::ClientGroupConfig parse_client_group(const json& value, const std::string& where, std::size_t index,
                                             const Hosts& hosts) {
  using models::ConnectionMode;
  using models::LoopMode;
  const Section s(&value, where, "/clients/*");
  models::ClientGroupConfig g;
  g.name = s.string("name", "group" + std::to_string(index));
  g.count = s.integer("count", g.count, 1, 1 << 24);
  if (s.has("host") && s.has("hosts")) fail(s.at("host"), "give \"host\" or \"hosts\", not both");
  if (s.has("host")) {
    g.hosts.push_back(hosts.reference(s, "host", "").name);
  } else if (const json* list = s.get("hosts")) {
    if (!list->is_array() || list->empty())
      fail(s.at("hosts"), "expected a non-empty array of host names, got " + show(*list));
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string at = child_pointer(s.at("hosts"), i);
      g.hosts.push_back(hosts.find(detail::parse_string((*list)[i], at), at).name);
    }
  } else {
    g.hosts.push_back(hosts.find("client", s.at("hosts")).name);
  }
  g.database = s.string("database", g.database);
  g.user = s.string("user", g.user);
  g.mode = s.choice<LoopMode>("mode", g.mode, {{"closed", LoopMode::kClosed}, {"open", LoopMode::kOpen}});
  if (g.mode == LoopMode::kOpen) {
    if (!s.has("rate"))
      fail(s.at("rate"), "missing: an open-loop group needs a rate (transactions per second per client)");
    g.rate = s.number_above("rate", 0, 0);
    if (s.has("think_time"))
      fail(s.at("think_time"), "applies to closed-loop groups only; an open-loop group's pace is its rate");
  } else {
    if (s.has("rate"))
      fail(s.at("rate"), "applies to open-loop groups only (add \"mode\": \"open\", or use think_time)");
    g.think_time = s.distribution("think_time", g.think_time);
  }
  g.connection = s.choice<ConnectionMode>(
      "connection", g.connection,
      {{"persistent", ConnectionMode::kPersistent}, {"per_transaction", ConnectionMode::kPerTransaction}});
  if (s.has("lifetime")) {
    if (g.connection != ConnectionMode::kPersistent) {
      fail(s.at("lifetime"),
           "applies to persistent connections only; per_transaction connections last one transaction");
    }
    g.lifetime = parse_distribution(*s.get("lifetime"), s.at("lifetime"));
  }
  g.reconnect_delay = s.distribution("reconnect_delay", g.reconnect_delay);
  g.queries_per_transaction = s.integer("queries_per_transaction", g.queries_per_transaction, 1, 1 << 20);
  g.server_cpu = s.distribution("server_cpu", g.server_cpu);
  g.server_wait = s.distribution("server_wait", g.server_wait);
  g.client_cpu = s.distribution("client_cpu", g.client_cpu);
  g.send_cpu = s.distribution("send_cpu", g.send_cpu);
  g.client_threads = s.integer("client_threads", g.client_threads, 1, 4096);
  g.connect_cpu = s.distribution("connect_cpu", g.connect_cpu);
  g.wakeup = s.duration("wakeup", g.wakeup, Sign::kNonNegative);
  g.blocking_connect = s.boolean("blocking_connect", g.blocking_connect);
  g.start = s.duration("start", g.start, Sign::kNonNegative);
  g.weight = s.number_above("weight", g.weight, 0);
  return g;
}

std::vector<models::ClientGroupConfig> parse_clients(const json& doc, const Hosts& hosts) {
  const json* list = array_member(doc, "clients");
  if (list == nullptr) return {parse_client_group(json::object(), "/clients/0", 0, hosts)};
  if (list->empty()) fail("/clients", "needs at least one client group");
  std::vector<models::ClientGroupConfig> groups;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string where = child_pointer("/clients", i);
    groups.push_back(parse_client_group((*list)[i], where, i, hosts));
    for (std::size_t j = 0; j + 1 < groups.size(); ++j) {
      if (groups[j].name == groups.back().name) {
        fail(child_pointer(where, "name"), "group name " + in_quotes(groups.back().name) +
                                               " is already used by /clients/" + std::to_string(j));
      }
    }
  }
  return groups;
}

int restart_process(const Section& s, int total) {
  if (!s.has("process")) return 0;
  const int p = s.integer("process", 0, 0, std::numeric_limits<int>::max());
  if (p >= total) {
    fail(s.at("process"),
         "must be less than " + std::to_string(total) + " (pods x processes), got " + std::to_string(p));
  }
  return p;
}

const std::vector<std::pair<std::string, models::RestartMode>> kRestartModes = {
    {"wait_for_clients", models::RestartMode::kWaitForClients},
    {"disconnect", models::RestartMode::kDisconnect}};

std::vector<models::RestartConfig> parse_restarts(const json& doc, const RunConfig& run,
                                                  int total_processes) {
  std::vector<models::RestartConfig> restarts;
  if (const json* list = array_member(doc, "restarts")) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const Section s(&(*list)[i], child_pointer("/restarts", i), "/restarts/*");
      models::RestartConfig r;
      r.at = s.duration("at", r.at, Sign::kNonNegative);
      r.process = restart_process(s, total_processes);
      r.mode = s.choice("mode", r.mode, kRestartModes);
      r.downtime = s.duration("downtime", r.downtime, Sign::kNonNegative);
      r.drain_timeout = s.duration("drain_timeout", r.drain_timeout, Sign::kNonNegative);
      restarts.push_back(r);
    }
  }
  if (const json* rolling = member(doc, "rolling_restart")) {
    const Section s(rolling, "/rolling_restart", "/rolling_restart");
    models::RestartConfig r;
    const Time start = s.duration("start", run.warmup, Sign::kNonNegative);
    const Time interval = s.duration("interval", 5 * sim::kSecond, Sign::kPositive);
    r.mode = s.choice("mode", r.mode, kRestartModes);
    r.downtime = s.duration("downtime", r.downtime, Sign::kNonNegative);
    r.drain_timeout = s.duration("drain_timeout", r.drain_timeout, Sign::kNonNegative);
    // Durations are capped well below the range of Time, but a thousand restarts apart are not.
    if (total_processes > 1 && interval > (sim::kTimeMax / 4 - start) / (total_processes - 1)) {
      fail(s.at("interval"), "too large for " + std::to_string(total_processes) + " restarts");
    }
    for (int k = 0; k < total_processes; ++k) {
      r.at = start + k * interval;
      r.process = k;
      restarts.push_back(r);
    }
  }
  return restarts;
}

std::vector<int> parse_assignment(const json& doc, int total_processes,
                                  const std::vector<models::ClientGroupConfig>& clients) {
  std::vector<int> assignment;
  const json* list = array_member(doc, "assignment");
  if (list == nullptr) return assignment;
  if (list->size() != static_cast<std::size_t>(total_processes)) {
    fail("/assignment", "has " + std::to_string(list->size()) + " entries but there are " +
                            std::to_string(total_processes) + " processes (pods x processes)");
  }
  long long persistent = 0;
  for (const auto& g : clients) {
    if (g.connection == models::ConnectionMode::kPersistent) persistent += g.count;
  }
  long long sum = 0;
  for (std::size_t i = 0; i < list->size(); ++i) {
    assignment.push_back(
        static_cast<int>(detail::parse_integer((*list)[i], child_pointer("/assignment", i), 0, 1 << 24)));
    sum += assignment.back();
  }
  if (sum > persistent) {
    fail("/assignment", "assigns " + std::to_string(sum) + " connections but there are only " +
                            std::to_string(persistent) + " persistent clients");
  }
  return assignment;
}

}  // namespace

Scenario parse_scenario(const json& doc) {
  const Section top(&doc, "/", "");
  Scenario sc;
  sc.name = top.string("name", "", true);
  sc.description = top.string("description", "", true);
  sc.run = parse_run(doc);
  models::WorldConfig& w = sc.world;
  w.hosts = parse_hosts(doc);
  const Hosts hosts(w.hosts);
  w.network = parse_network(doc);
  for (std::size_t i = 0; i < w.hosts.size(); ++i) {
    // The sender of a message is the cpu whose burst ended at the instant it arrives: a loopback with a delay
    // would lose it, and the cost would silently never be charged.
    if (w.hosts[i].cross_cpu_message > 0 && w.network.loopback_latency > 0) {
      fail("/hosts/" + std::to_string(i) + "/cross_cpu_message",
           "needs a loopback without delay, which keeps the sending cpu: set network.loopback_latency to \"0s\"");
    }
  }
  w.kernel = parse_kernel(doc);
  w.pooler = parse_pooler(doc, hosts);
  w.postgres = parse_postgres(doc, hosts);
  w.clients = parse_clients(doc, hosts);
  const int total_processes = w.pooler.pods * w.pooler.processes;
  w.restarts = parse_restarts(doc, sc.run, total_processes);
  w.assignment = parse_assignment(doc, total_processes, w.clients);
  w.timeseries_interval = top.duration("timeseries_interval", w.timeseries_interval, Sign::kNonNegative);
  // The field checks above cannot see the whole: the graph check finds what no single field shows.
  const auto problems = models::check_topology(w);
  if (!problems.empty()) throw ScenarioError(problems.front().where, problems.front().message);
  return sc;
}

}  // namespace scenarios
