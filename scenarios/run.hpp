// Running a scenario: replications with independent random streams, spread over threads, merged in a fixed order
// so the results are the same for any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "models/results.hpp"
#include "scenarios/spec.hpp"

namespace scenarios {

struct RunOptions {
  int threads = 1;
  // Called from the calling thread about every 100 ms with the overall progress in [0, 1]; may be empty.
  std::function<void(double)> on_progress;
  // Polled from the calling thread about every 100 ms; returning true stops every replication and makes
  // run_scenario throw RunCancelled (e.g. a Python binding that saw Ctrl-C). May be empty.
  std::function<bool()> should_cancel;
};

class RunCancelled : public std::runtime_error {
 public:
  RunCancelled() : std::runtime_error("run cancelled") {}
};

struct RunOutput {
  std::vector<models::RunResult> replications;  // in replication order
  double wall_s = 0;                             // the whole run, all threads
};

// Replication r of seed s draws every stream from (s, r, stream name): replications are independent, and the
// same (seed, r) always gives the same numbers.
[[nodiscard]] RunOutput run_scenario(const Scenario& scenario, const RunOptions& options = {});

}  // namespace scenarios
