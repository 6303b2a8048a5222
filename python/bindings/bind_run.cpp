// Running a scenario with the GIL released: the results document (as `rpsim run --json` writes it), the table,
// and the raw per-replication figures and time series as columns of NumPy arrays.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <sstream>

#include "python/bindings/bindings.hpp"
#include "scenarios/json.hpp"
#include "scenarios/report.hpp"
#include "scenarios/run.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace rpsim_python {
namespace {

double ms(double ns) { return ns / 1e6; }

// One column per figure, in insertion order, turned into NumPy arrays at the end.
class Columns {
 public:
  void add(const char* name, double v) { doubles_[index(name, false)].push_back(v); }
  void add_int(const char* name, std::int64_t v) { ints_[index(name, true)].push_back(v); }

  [[nodiscard]] py::dict to_dict() const {
    py::dict d;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      const auto& [is_int, k] = where_[i];
      if (is_int) {
        d[py::str(names_[i])] = py::array_t<std::int64_t>(static_cast<py::ssize_t>(ints_[k].size()), ints_[k].data());
      } else {
        d[py::str(names_[i])] = py::array_t<double>(static_cast<py::ssize_t>(doubles_[k].size()), doubles_[k].data());
      }
    }
    return d;
  }

 private:
  std::size_t index(const char* name, bool is_int) {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) return where_[i].second;
    }
    names_.emplace_back(name);
    auto& store_size = is_int ? ints_size_ : doubles_size_;
    where_.emplace_back(is_int, store_size++);
    if (is_int) ints_.emplace_back(); else doubles_.emplace_back();
    return where_.back().second;
  }

  std::vector<std::string> names_;
  std::vector<std::pair<bool, std::size_t>> where_;
  std::vector<std::vector<double>> doubles_;
  std::vector<std::vector<std::int64_t>> ints_;
  std::size_t doubles_size_ = 0, ints_size_ = 0;
};

py::dict by_replication(const scenarios::RunOutput& out) {
  Columns c;
  for (std::size_t r = 0; r < out.replications.size(); ++r) {
    const models::RunResult& x = out.replications[r];
    c.add_int("replication", static_cast<std::int64_t>(r));
    c.add("throughput_tps", x.throughput_tps);
    c.add_int("transactions", static_cast<std::int64_t>(x.transactions));
    c.add("latency_mean_ms", ms(x.latency.mean()));
    c.add("latency_p50_ms", ms(static_cast<double>(x.latency.quantile(0.50))));
    c.add("latency_p95_ms", ms(static_cast<double>(x.latency.quantile(0.95))));
    c.add("latency_p99_ms", ms(static_cast<double>(x.latency.quantile(0.99))));
    c.add("latency_p999_ms", ms(static_cast<double>(x.latency.quantile(0.999))));
    c.add("latency_max_ms", ms(static_cast<double>(x.latency.max())));
    c.add("backends_mean", x.backends_mean);
    c.add("backends_max", x.backends_max);
    c.add("postgres_utilization", x.postgres_utilization);
    c.add("pooler_host_utilization", x.pooler_host_utilization);
    c.add_int("refused_logins", static_cast<std::int64_t>(x.refused_logins));
    c.add_int("accept_queue_resets", static_cast<std::int64_t>(x.accept_queue_resets));
    c.add_int("migrated", static_cast<std::int64_t>(x.migrated));
    c.add_int("syn_drops", static_cast<std::int64_t>(x.syn_drops));
    c.add_int("connection_refused", static_cast<std::int64_t>(x.connection_refused));
    c.add_int("port_exhaustion", static_cast<std::int64_t>(x.port_exhaustion));
    c.add_int("query_wait_timeouts", static_cast<std::int64_t>(x.query_wait_timeouts));
    c.add_int("max_client_conn_errors", static_cast<std::int64_t>(x.max_client_conn_errors));
    c.add_int("failed_connects", static_cast<std::int64_t>(x.failed_connects));
    c.add_int("connections_opened", static_cast<std::int64_t>(x.connections_opened));
    c.add_int("connections_closed", static_cast<std::int64_t>(x.connections_closed));
    c.add_int("connections_open_at_end", static_cast<std::int64_t>(x.connections_open_at_end));
    c.add_int("events", static_cast<std::int64_t>(x.events));
  }
  return c.to_dict();
}

py::dict processes_by_replication(const scenarios::RunOutput& out) {
  Columns c;
  for (std::size_t r = 0; r < out.replications.size(); ++r) {
    for (const models::ProcessResult& p : out.replications[r].processes) {
      c.add_int("replication", static_cast<std::int64_t>(r));
      c.add_int("process", p.index);
      c.add_int("pod", p.pod);
      c.add("connections_mean", p.connections_mean);
      c.add("connections_max", p.connections_max);
      c.add_int("transactions", static_cast<std::int64_t>(p.transactions));
      c.add("throughput_tps", p.throughput_tps);
      c.add("utilization", p.utilization);
      c.add("cpu_seconds", p.loop.cpu_seconds);
      c.add_int("wakeups", static_cast<std::int64_t>(p.loop.wakeups));
      c.add("wait_mean_ms", p.wait_mean_ms);
      c.add("wait_p99_ms", p.wait_p99_ms);
      c.add("servers_mean", p.servers_mean);
      c.add("servers_max", p.servers_max);
      c.add("in_transaction_mean", p.in_transaction_mean);
      c.add("latency_mean_ms", p.latency_mean_ms);
      c.add_int("logins", static_cast<std::int64_t>(p.logins));
    }
  }
  return c.to_dict();
}

// The columns of write_timeseries_csv, same names and order.
py::dict timeseries(const scenarios::RunOutput& out) {
  Columns c;
  for (std::size_t r = 0; r < out.replications.size(); ++r) {
    for (const models::TimeseriesRow& row : out.replications[r].timeseries) {
      c.add("time_s", row.time_s);
      c.add_int("replication", static_cast<std::int64_t>(r));
      c.add_int("process", row.process);
      c.add_int("connections", row.connections);
      c.add("utilization", row.utilization);
      c.add_int("waiting_clients", row.waiting_clients);
      c.add_int("servers", row.servers);
      c.add_int("transactions", static_cast<std::int64_t>(row.transactions));
    }
  }
  return c.to_dict();
}

}  // namespace

void bind_run(py::module_& m) {
  m.def(
      "run",
      [](const std::string& doc_text, int threads, std::int64_t timeseries_interval_ns) {
        const json doc = json::parse(doc_text);
        scenarios::RunOutput out;
        std::string results_text, table;
        bool has_timeseries = false;
        try {
          // Everything below touches only C++ objects: other Python threads (a Dask worker's, a notebook's) run on.
          py::gil_scoped_release release;
          scenarios::Scenario s = scenarios::parse_scenario(doc);
          if (timeseries_interval_ns > 0) s.world.timeseries_interval = timeseries_interval_ns;
          has_timeseries = s.world.timeseries_interval > 0;
          scenarios::RunOptions options;
          options.threads = threads;
          // Ctrl-C in a notebook or shell: the signal handler only sets a flag; Python raises KeyboardInterrupt
          // once someone calls PyErr_CheckSignals with the GIL held (it does nothing outside the main thread).
          options.should_cancel = [] {
            py::gil_scoped_acquire gil;
            return PyErr_CheckSignals() != 0;
          };
          out = scenarios::run_scenario(s, options);
          const json results = scenarios::results_json(s, doc, out);
          results_text = results.dump(2) + "\n";  // byte for byte what `rpsim run --json` writes
          std::ostringstream t;
          scenarios::write_table(t, s, results);
          table = t.str();
        } catch (const scenarios::RunCancelled&) {
          throw py::error_already_set();  // the KeyboardInterrupt that PyErr_CheckSignals set
        }
        py::dict d;
        d["results"] = results_text;
        d["table"] = table;
        d["by_replication"] = by_replication(out);
        d["processes_by_replication"] = processes_by_replication(out);
        d["timeseries"] = has_timeseries ? py::object(timeseries(out)) : py::object(py::none());
        return d;
      },
      py::arg("doc"), py::arg("threads") = 1, py::arg("timeseries_interval_ns") = 0,
      "Runs a scenario document (JSON text). Returns a dict: 'results' (the results document as JSON text), "
      "'table' (the CLI's table), 'by_replication' and 'processes_by_replication' (columns of NumPy arrays), "
      "'timeseries' (columns, or None when no interval is set). timeseries_interval_ns > 0 overrides the "
      "scenario's interval without changing the document, as `rpsim run --timeseries` does.");
}

}  // namespace rpsim_python
