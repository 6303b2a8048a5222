// libFuzzer target: scenario bytes must end as a Scenario or a ScenarioError, never as a crash, a sanitizer
// report, another exception or a hang.
//
// Input layout: a JSON document, then optionally NUL-separated `--set` assignments ("path=value"), applied in
// order as `rpsim run --set` would apply them. A seed is thus an example scenario with a few edits appended.
// Each input goes through the two ways rpsim reads scenarios:
//   1. nlohmann::json::parse without exceptions, the edits, then parse_scenario (the Python binding's way);
//   2. load_json_file on the same bytes through a memfd (the CLI's way: duplicate-key check, line:column errors),
//      then load_scenario_file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/expect_only.hpp"
#include "scenarios/json.hpp"
#include "scenarios/spec.hpp"

namespace {

constexpr std::size_t kMaxEdits = 8;

[[noreturn]] void report(const char* stage, const char* what) {
  std::fprintf(stderr, "fuzz_scenario: %s threw something other than ScenarioError: %s\n", stage, what);
  std::abort();
}

// A ScenarioError must say where: a non-empty path (JSON pointer, "--set" or file:line:column) and a message.
void check_error(const scenarios::ScenarioError& e) {
  if (std::string_view(e.what()).empty()) report("ScenarioError", "(empty message)");
}

void via_document(std::string_view text, const std::vector<std::string>& edits) {
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return;
  fuzz::expect_only<scenarios::ScenarioError>(
      "apply_set/parse_scenario",
      [&] {
        for (const auto& edit : edits) scenarios::apply_set(doc, edit);
        (void)scenarios::parse_scenario(doc);
      },
      check_error, report);
}

int memfd() {
  static const int fd = [] {
    int f = memfd_create("fuzz_scenario.json", 0);
    if (f < 0) std::abort();
    return f;
  }();
  return fd;
}

void via_file(std::string_view text) {
  const int fd = memfd();
  if (ftruncate(fd, 0) != 0) std::abort();
  if (!text.empty() && pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  fuzz::expect_only<scenarios::ScenarioError>(
      "load_scenario_file", [&] { (void)scenarios::load_scenario_file(path); }, check_error, report);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t end = input.find('\0');
  const std::string_view text = input.substr(0, end);
  std::vector<std::string> edits;
  for (std::size_t at = end; at != std::string_view::npos && edits.size() < kMaxEdits;) {
    const std::size_t next = input.find('\0', at + 1);
    edits.emplace_back(input.substr(at + 1, next == std::string_view::npos ? next : next - at - 1));
    at = next;
  }
  via_document(text, edits);
  via_file(text);
  return 0;
}
