// Results of a run as the documented JSON document, a readable table, and a time-series CSV.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "scenarios/run.hpp"
#include "scenarios/spec.hpp"

namespace scenarios {

// The results document. `scenario_doc` is the effective scenario (after --set), echoed under "scenario".
// Everything in it is a pure function of (scenario, seed) except engine.wall_s and engine.events_per_s.
[[nodiscard]] nlohmann::json results_json(const Scenario& scenario, const nlohmann::json& scenario_doc,
                                          const RunOutput& output);

// A table for people: throughput, latency, one line per process, imbalance, Postgres, kernel, engine.
void write_table(std::ostream& out, const Scenario& scenario, const nlohmann::json& results);

// time_s, replication, process, connections, utilization, waiting_clients, servers, transactions
void write_timeseries_csv(std::ostream& out, const RunOutput& output);

}  // namespace scenarios
