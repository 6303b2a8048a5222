// Where scenario documents come from: files on disk (with file:line:column for malformed JSON) and the
// embedded default.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "scenarios/json.hpp"
#include "scenarios/json_detail.hpp"

namespace scenarios {
namespace {

using nlohmann::json;

// Kept small and quick (about a second of wall time) because it is what a first `rpsim run` shows.
constexpr const char* kDefaultScenario = R"json({
  "name": "default",
  "description": "Two PgBouncer-like processes share port 6432 with SO_REUSEPORT, each pinned to its own core, and serve 40 long-lived closed-loop clients in transaction mode. Try --set pooler.processes=4 or --set pooler.pinning=siblings.",
  "run": {"duration": "20s", "warmup": "2s", "seed": 1, "replications": 1},
  "hosts": [
    {"name": "pooler", "address": "10.0.0.1", "cores": 4, "threads_per_core": 2},
    {"name": "db", "address": "10.0.0.10", "cores": 8, "threads_per_core": 1},
    {"name": "client", "address": "10.0.0.100", "cores": 8, "threads_per_core": 1}
  ],
  "pooler": {
    "host": "pooler",
    "processes": 2,
    "pinning": "cores",
    "pool_mode": "transaction",
    "pool_size": 20
  },
  "postgres": {"host": "db", "max_connections": 100},
  "clients": [
    {
      "name": "app",
      "count": 40,
      "hosts": ["client"],
      "mode": "closed",
      "think_time": {"kind": "exponential", "mean": "2ms"},
      "server_cpu": {"kind": "exponential", "mean": "200us"}
    }
  ]
})json";

// nlohmann reports the byte offset just past the character it stopped at; editors want line and column.
std::string position(const std::string& text, std::size_t byte) {
  const std::size_t offset = std::min(byte == 0 ? 0 : byte - 1, text.size());
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(offset - line_start + 1);
}

// Drops nlohmann's "[json.exception.parse_error.101] parse error at line 3, column 5: " prefix, which repeats
// what the path already says.
std::string parse_message(const std::string& what) {
  std::string message = what;
  if (const auto bracket = message.find("] ");
      message.rfind("[json.exception", 0) == 0 && bracket != std::string::npos) {
    message = message.substr(bracket + 2);
  }
  if (message.rfind("parse error", 0) == 0) {
    if (const auto colon = message.find(": "); colon != std::string::npos)
      message = message.substr(colon + 2);
  }
  return message;
}

// nlohmann keeps the last of two equal keys without a word; in a hand-edited scenario the first one is then
// silently ignored, which is as bad as a misspelt key. This parser callback tracks where it is to report it.
class DuplicateKeyCheck {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        frames_.push_back({event == json::parse_event_t::object_start, {}, {}, 0});
        break;
      case json::parse_event_t::key: {
        Frame& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second) throw ScenarioError(pointer(), "duplicate key");
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        next_element();
        break;
      case json::parse_event_t::value:
        next_element();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;        // object: the key being read
    std::size_t index = 0;  // array: the element being read
  };

  void next_element() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }

  [[nodiscard]] std::string pointer() const {
    std::string p = "/";
    for (const auto& f : frames_)
      p = f.object ? detail::child_pointer(p, f.key) : detail::child_pointer(p, f.index);
    return p;
  }

  std::vector<Frame> frames_;
};

}  // namespace

json load_json_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ScenarioError(path, "is a directory, not a scenario file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError(path, std::string("cannot read: ") + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw ScenarioError(path, std::string("cannot read: ") + std::strerror(errno));
  const std::string text = buffer.str();
  try {
    return json::parse(text, DuplicateKeyCheck());
  } catch (const json::parse_error& e) {
    throw ScenarioError(path + ":" + position(text, e.byte), parse_message(e.what()));
  } catch (const json::exception& e) {
    throw ScenarioError(path, parse_message(e.what()));
  }
}

Scenario load_scenario_file(const std::string& path) {
  Scenario scenario = parse_scenario(load_json_file(path));
  if (scenario.name.empty()) scenario.name = std::filesystem::path(path).stem().string();
  return scenario;
}

json default_scenario_json() {
  static const json doc = json::parse(kDefaultScenario);
  return doc;
}

Scenario default_scenario() { return parse_scenario(default_scenario_json()); }

}  // namespace scenarios
