// The JSON scenario format: load, edit (--set), validate and convert documents into Scenario structs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenarios/spec.hpp"
#include "sim/distribution.hpp"
#include "sim/time.hpp"

namespace scenarios {

// Validates the whole document and converts it. Throws ScenarioError naming the JSON pointer of the first
// problem found (keys are visited in sorted order, sections in the order of the README).
[[nodiscard]] Scenario parse_scenario(const nlohmann::json& doc);

// Reads a file as JSON without validating it, so that --set can edit the document before parse_scenario sees
// it. Errors: ScenarioError(path, ...) when unreadable, ScenarioError("<path>:<line>:<column>", ...) when
// malformed.
[[nodiscard]] nlohmann::json load_json_file(const std::string& path);
// load_json_file + parse_scenario; a document without "name" takes the file's stem as its name.
[[nodiscard]] Scenario load_scenario_file(const std::string& path);

// The scenario `rpsim run` uses when given none.
[[nodiscard]] nlohmann::json default_scenario_json();
[[nodiscard]] Scenario default_scenario();

// Applies one `--set path=value` edit. The path is dotted (pooler.processes, clients.0.count); the value is
// taken as JSON when it parses as JSON and as a string otherwise (so run.duration=30s works); null removes
// the key. Missing intermediate objects that the format allows are created; clients.N with N == size appends
// an element.
void apply_set(nlohmann::json& doc, const std::string& assignment);
// "clients.0.count" -> "/clients/0/count" (RFC 6901 escaping of '~' and '/').
[[nodiscard]] std::string to_json_pointer(const std::string& dotted);

// Value parsers, reusable by anything that reads the format; `where` is the JSON pointer used in errors.
// A duration is a string: a non-negative decimal number and a unit (ns, us, ms, s, m, h), e.g. "250us",
// "0.5ms".
[[nodiscard]] sim::Time parse_duration(const nlohmann::json& value, const std::string& where);
// A duration string (a constant) or an object with "kind": constant, exponential, uniform, lognormal,
// empirical.
[[nodiscard]] sim::Distribution parse_distribution(const nlohmann::json& value, const std::string& where);
// Dotted-quad IPv4 string to a host-order integer ("10.0.0.1" -> 0x0a000001).
[[nodiscard]] std::uint32_t parse_ipv4(const nlohmann::json& value, const std::string& where);
[[nodiscard]] std::string format_ipv4(std::uint32_t address);
// Inverse of parse_duration for writing documents back: the largest unit that represents `t` exactly.
[[nodiscard]] std::string format_duration(sim::Time t);

// The format's vocabulary, shared by the parser, apply_set and the schema test. A generic pointer names array
// elements "*": "/clients/*". Returns the keys an object there may hold (empty when it is not an object).
[[nodiscard]] std::vector<std::string> known_keys(const std::string& generic_pointer);

}  // namespace scenarios
