// The rpsim command line: run, check and sweep JSON scenarios.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "scenarios/json.hpp"
#include "scenarios/json_detail.hpp"
#include "scenarios/report.hpp"
#include "scenarios/run.hpp"
#include "scenarios/sweep.hpp"

namespace {

using nlohmann::json;
using scenarios::ScenarioError;

constexpr int kBadInput = 2;

struct Common {
  std::string file;
  std::vector<std::string> sets;
  std::optional<std::uint64_t> seed;
  std::optional<int> replications;
  std::string duration;
  std::string warmup;
  int threads = 1;
  bool quiet = false;
};

void add_common(CLI::App* cmd, Common& c, bool file_required) {
  auto* f = cmd->add_option("scenario", c.file, "scenario JSON file (default: the embedded default scenario)");
  if (file_required) f->required();
  cmd->add_option("--set", c.sets, "edit the scenario: path=value, e.g. pooler.processes=4 (repeatable)");
  cmd->add_option("--seed", c.seed, "run seed (replication r uses streams of (seed, r))");
  cmd->add_option("--replications,-r", c.replications, "independent replications");
  cmd->add_option("--duration", c.duration, "measured simulated time, e.g. 30s");
  cmd->add_option("--warmup", c.warmup, "simulated time discarded first, e.g. 5s");
  cmd->add_option("--threads,-j", c.threads, "threads for replications (results do not depend on it)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--quiet,-q", c.quiet, "no progress bar");
}

// The effective document: file (or default) plus every edit, in command-line order.
json effective_doc(const Common& c) {
  json doc = c.file.empty() ? scenarios::default_scenario_json() : scenarios::load_json_file(c.file);
  if (!c.file.empty() && !doc.contains("name") && doc.is_object()) {
    std::string stem = c.file.substr(c.file.find_last_of('/') + 1);
    doc["name"] = stem.substr(0, stem.rfind('.'));
  }
  if (c.seed) scenarios::apply_set(doc, "run.seed=" + std::to_string(*c.seed));
  if (c.replications) scenarios::apply_set(doc, "run.replications=" + std::to_string(*c.replications));
  // As --set values: a duration such as 30s is a string, and apply_set checks the bytes before anything dumps them.
  for (const auto& [option, key, value] : {std::tuple{"--duration", "run.duration", &c.duration},
                                           std::tuple{"--warmup", "run.warmup", &c.warmup}}) {
    if (value->empty()) continue;
    if (!scenarios::detail::valid_utf8(*value)) throw ScenarioError(option, "is not valid UTF-8");
    scenarios::apply_set(doc, std::string(key) + "=" + *value);
  }
  for (const auto& s : c.sets) scenarios::apply_set(doc, s);
  return doc;
}

std::function<void(double)> progress_bar(bool quiet) {
  if (quiet || !isatty(STDERR_FILENO)) return {};
  return [](double f) {
    const int width = 40;
    const int filled = static_cast<int>(f * width);
    std::fprintf(stderr, "\r[%.*s%*s] %3d%%", filled, "========================================", width - filled, "",
                 static_cast<int>(f * 100));
    if (f >= 1.0) std::fprintf(stderr, "\r%*s\r", width + 8, "");
    std::fflush(stderr);
  };
}

// Writes to a file, or stdout for "-". Returns false (after saying why) when the file cannot be written.
bool write_output(const std::string& path, const std::function<void(std::ostream&)>& body) {
  if (path == "-") {
    body(std::cout);
    return true;
  }
  std::ofstream f(path);
  if (!f) {
    std::fprintf(stderr, "rpsim: %s: cannot open for writing\n", path.c_str());
    return false;
  }
  body(f);
  f.close();
  if (!f) {
    std::fprintf(stderr, "rpsim: %s: write failed\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rpsim: a discrete-event simulator of SO_REUSEPORT connection pooling"};
  app.require_subcommand(1);

  Common run_opts;
  std::string json_out, timeseries_out;
  auto* run = app.add_subcommand("run", "simulate a scenario and print its results");
  add_common(run, run_opts, false);
  run->add_option("--json", json_out, "write the results document to FILE ('-' for stdout)");
  run->add_option("--timeseries", timeseries_out, "write per-process time series to FILE.csv ('-' for stdout)");

  Common check_opts;
  auto* check = app.add_subcommand("check", "validate a scenario without running it");
  add_common(check, check_opts, true);

  Common sweep_opts;
  std::vector<std::string> varies;
  std::string sweep_out = "-";
  std::string format;
  auto* sweep = app.add_subcommand("sweep", "run a grid of variations and write a table");
  add_common(sweep, sweep_opts, true);
  sweep->add_option("--vary", varies, "path=v1,v2,... (repeatable; the grid is their product)")->required();
  sweep->add_option("--out,-o", sweep_out, "output FILE (.csv or .json), '-' for CSV on stdout");
  sweep->add_option("--format", format, "csv or json (default: from --out's extension)")
      ->check(CLI::IsMember({"csv", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kBadInput;
  }

  try {
    if (*check) {
      const json doc = effective_doc(check_opts);
      const auto s = scenarios::parse_scenario(doc);
      std::printf("%s: ok (%s)\n", check_opts.file.c_str(), s.name.c_str());
      return 0;
    }
    if (*run) {
      const json doc = effective_doc(run_opts);
      scenarios::Scenario s = scenarios::parse_scenario(doc);
      if (!timeseries_out.empty() && s.world.timeseries_interval == 0) {
        s.world.timeseries_interval = std::max<sim::Time>(s.run.duration / 200, 10 * sim::kMillisecond);
      }
      scenarios::RunOptions opts;
      opts.threads = run_opts.threads;
      opts.on_progress = progress_bar(run_opts.quiet);
      const auto out = scenarios::run_scenario(s, opts);
      const json results = scenarios::results_json(s, doc, out);
      bool ok = true;
      if (json_out != "-") scenarios::write_table(std::cout, s, results);
      if (!json_out.empty()) {
        ok &= write_output(json_out, [&](std::ostream& o) { o << results.dump(2) << "\n"; });
      }
      if (!timeseries_out.empty()) {
        ok &= write_output(timeseries_out, [&](std::ostream& o) { scenarios::write_timeseries_csv(o, out); });
      }
      return ok ? 0 : 1;
    }
    if (*sweep) {
      const json doc = effective_doc(sweep_opts);
      (void)scenarios::parse_scenario(doc);  // the base must be valid before the grid starts
      std::vector<scenarios::SweepAxis> axes;
      for (const auto& v : varies) axes.push_back(scenarios::parse_vary(v));
      // Every point is validated before any runs, so a bad value fails in seconds rather than after hours.
      {
        std::vector<std::size_t> index(axes.size(), 0);
        for (std::size_t k = 0; k < axes.size(); ++k) {
          for (const auto& v : axes[k].values) {
            json d = doc;
            scenarios::apply_set(d, axes[k].path + "=" + v.dump());
            (void)scenarios::parse_scenario(d);
          }
        }
      }
      scenarios::RunOptions opts;
      opts.threads = sweep_opts.threads;
      const auto rows = scenarios::run_sweep(doc, axes, opts);
      if (format.empty()) format = sweep_out.size() > 5 && sweep_out.ends_with(".json") ? "json" : "csv";
      const bool ok = write_output(sweep_out, [&](std::ostream& o) {
        if (format == "json") {
          o << json(rows).dump(2) << "\n";
        } else {
          scenarios::write_sweep_csv(o, axes, rows);
        }
      });
      return ok ? 0 : 1;
    }
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "rpsim: %s\n", e.what());
    return kBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rpsim: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
