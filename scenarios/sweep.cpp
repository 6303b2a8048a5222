// Running the grid of a sweep and writing it as CSV or JSON.
#include "scenarios/sweep.hpp"

#include <algorithm>

#include "scenarios/json.hpp"
#include "scenarios/json_detail.hpp"
#include "scenarios/report.hpp"

namespace scenarios {

using nlohmann::json;

SweepAxis parse_vary(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    throw ScenarioError("--vary " + text, "expected path=v1,v2,... such as pooler.processes=1,2,4");
  }
  if (!detail::valid_utf8(text)) throw ScenarioError("--vary", "is not valid UTF-8: " + detail::in_quotes(text));
  SweepAxis axis;
  axis.path = text.substr(0, eq);
  const std::string list = text.substr(eq + 1);
  int depth = 0;
  bool quoted = false;
  std::string item;
  auto flush = [&] {
    if (item.empty()) throw ScenarioError("--vary " + text, "empty value in the list");
    // The same rule as --set: JSON if it parses, else a string.
    json v = json::parse(item, nullptr, false);
    axis.values.push_back(v.is_discarded() ? json(item) : v);
    item.clear();
  };
  for (char ch : list) {
    if (ch == '"') quoted = !quoted;
    if (!quoted && (ch == '[' || ch == '{')) ++depth;
    if (!quoted && (ch == ']' || ch == '}')) --depth;
    if (ch == ',' && depth == 0 && !quoted) {
      flush();
    } else {
      item += ch;
    }
  }
  flush();
  return axis;
}

const std::vector<std::string>& sweep_columns() {
  static const std::vector<std::string> columns{
      "throughput_tps",  "throughput_ci95", "latency_mean_ms", "latency_mean_ci95", "latency_p50_ms",
      "latency_p95_ms",  "latency_p99_ms",  "latency_p99_ci95", "latency_p999_ms", "connections_max_over_mean",
      "load_max_over_mean", "jain_index", "busiest_utilization", "busiest_wait_p99_ms", "server_connections_total",
      "postgres_backends_max", "postgres_utilization", "refused_logins", "query_wait_timeouts",
      "accept_queue_resets", "syn_drops"};
  return columns;
}

namespace {
json row_of(const json& r) {
  double busiest_util = 0, busiest_wait = 0, servers = 0;
  for (const auto& p : r["processes"]) {
    busiest_util = std::max(busiest_util, p["utilization"].get<double>());
    busiest_wait = std::max(busiest_wait, p["wait_ms"]["p99"].get<double>());
    servers += p["server_connections"]["mean"].get<double>();
  }
  return json{{"throughput_tps", r["throughput_tps"]["mean"]},
              {"throughput_ci95", r["throughput_tps"]["ci95"]},
              {"latency_mean_ms", r["latency_ms"]["mean"]},
              {"latency_mean_ci95", r["latency_ms"]["mean_ci95"]},
              {"latency_p50_ms", r["latency_ms"]["p50"]},
              {"latency_p95_ms", r["latency_ms"]["p95"]},
              {"latency_p99_ms", r["latency_ms"]["p99"]},
              {"latency_p99_ci95", r["latency_ms"]["p99_ci95"]},
              {"latency_p999_ms", r["latency_ms"]["p999"]},
              {"connections_max_over_mean", r["imbalance"]["connections_max_over_mean"]},
              {"load_max_over_mean", r["imbalance"]["load_max_over_mean"]},
              {"jain_index", r["imbalance"]["jain_index"]},
              {"busiest_utilization", busiest_util},
              {"busiest_wait_p99_ms", busiest_wait},
              {"server_connections_total", servers},
              {"postgres_backends_max", r["postgres"]["backends"]["max"]},
              {"postgres_utilization", r["postgres"]["utilization"]},
              {"refused_logins", r["postgres"]["refused_logins"]},
              {"query_wait_timeouts", r["errors"]["query_wait_timeout"]},
              {"accept_queue_resets", r["kernel"]["accept_queue_resets"]},
              {"syn_drops", r["kernel"]["syn_drops"]}};
}
}  // namespace

std::vector<json> run_sweep(const json& base_doc, const std::vector<SweepAxis>& axes, const RunOptions& options) {
  std::vector<json> rows;
  std::vector<std::size_t> index(axes.size(), 0);
  std::size_t points = 1;
  for (const auto& a : axes) points *= a.values.size();
  for (std::size_t point = 0; point < points; ++point) {
    json doc = base_doc;
    json row = json::object();
    for (std::size_t k = 0; k < axes.size(); ++k) {
      const json& v = axes[k].values[index[k]];
      apply_set(doc, axes[k].path + "=" + v.dump());
      row[axes[k].path] = v;
    }
    const Scenario scenario = parse_scenario(doc);
    const RunOutput out = run_scenario(scenario, options);
    const json results = results_json(scenario, doc, out);
    const json figures = row_of(results);  // named: items() of a temporary would dangle
    for (const auto& [key, value] : figures.items()) row[key] = value;
    rows.push_back(std::move(row));
    // Odometer: the last axis turns fastest.
    for (std::size_t k = axes.size(); k-- > 0;) {
      if (++index[k] < axes[k].values.size()) break;
      index[k] = 0;
    }
  }
  return rows;
}

void write_sweep_csv(std::ostream& out, const std::vector<SweepAxis>& axes, const std::vector<json>& rows) {
  auto cell = [](const json& v) {
    if (v.is_string()) return v.get<std::string>();
    std::string s = v.dump();
    if (s.find_first_of(",\"") != std::string::npos) {
      std::string q = "\"";
      for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      return q + "\"";
    }
    return s;
  };
  bool first = true;
  for (const auto& a : axes) {
    out << (first ? "" : ",") << a.path;
    first = false;
  }
  for (const auto& c : sweep_columns()) {
    out << (first ? "" : ",") << c;
    first = false;
  }
  out << "\n";
  for (const auto& row : rows) {
    first = true;
    for (const auto& a : axes) {
      out << (first ? "" : ",") << cell(row[a.path]);
      first = false;
    }
    for (const auto& c : sweep_columns()) {
      out << (first ? "" : ",") << cell(row[c]);
      first = false;
    }
    out << "\n";
  }
}

}  // namespace scenarios
