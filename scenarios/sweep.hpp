// Sweeps: the grid of --vary axes, one run per point, a tidy table of key figures with confidence intervals.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "scenarios/run.hpp"

namespace scenarios {

struct SweepAxis {
  std::string path;                   // dotted, as for --set
  std::vector<nlohmann::json> values;  // each parsed like a --set value
};

// "pooler.processes=1,2,4,8"; commas inside [], {} or quotes do not split ("pooler.pinning=[[0],[1]],cores").
[[nodiscard]] SweepAxis parse_vary(const std::string& text);

// One row per grid point, the first axis varying slowest. Each row holds the axis values under their dotted
// paths plus the key figures of results_json (see sweep_columns()). Every point uses the base seed, so points
// differ only by what varies (common random numbers).
[[nodiscard]] std::vector<nlohmann::json> run_sweep(const nlohmann::json& base_doc, const std::vector<SweepAxis>& axes,
                                                    const RunOptions& options);

// The figure columns of a sweep row, in order.
[[nodiscard]] const std::vector<std::string>& sweep_columns();
void write_sweep_csv(std::ostream& out, const std::vector<SweepAxis>& axes, const std::vector<nlohmann::json>& rows);

}  // namespace scenarios
