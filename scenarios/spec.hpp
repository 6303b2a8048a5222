// A scenario: the world to build (plain model structs) plus how to run it, as parsed from JSON.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "models/config.hpp"

namespace scenarios {

struct RunConfig {
  sim::Time duration = 60 * sim::kSecond;  // measured time, after the warm-up
  sim::Time warmup = 5 * sim::kSecond;     // simulated first and discarded from every statistic
  std::uint64_t seed = 1;
  int replications = 1;
};

struct Scenario {
  std::string name;
  std::string description;
  RunConfig run;
  models::WorldConfig world;
};

// Bad user input: where (a JSON pointer such as /pooler/processes, or a file name) and what.
class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(std::string path, const std::string& message)
      : std::runtime_error(path + ": " + message), path_(std::move(path)) {}
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace scenarios
