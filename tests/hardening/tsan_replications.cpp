// ThreadSanitizer check of the parallel replication runner (scenarios/run.cpp), built only in the tsan build
// (fuzz/build.sh tsan). It drives the three ways run_scenario uses threads: workers only, workers plus the
// calling thread polling progress (World::progress() is read while another thread runs that world), and a
// cancellation in the middle. Any data race aborts the program (TSAN_OPTIONS=halt_on_error=1); the results
// must also not depend on the thread count.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "scenarios/json.hpp"
#include "scenarios/run.hpp"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "tsan_replications: FAILED: %s\n", what.c_str());
  ++failures;
}

scenarios::Scenario scenario(const char* duration, int replications) {
  nlohmann::json doc = scenarios::default_scenario_json();
  scenarios::apply_set(doc, std::string("run.duration=") + duration);
  scenarios::apply_set(doc, "run.warmup=100ms");
  scenarios::apply_set(doc, "run.replications=" + std::to_string(replications));
  scenarios::apply_set(doc, "run.seed=11");
  return scenarios::parse_scenario(doc);
}

}  // namespace

int main() {
  const scenarios::Scenario sc = scenario("1s", 6);

  scenarios::RunOptions one;
  one.threads = 1;
  scenarios::RunOptions two;
  two.threads = 2;
  const auto serial = scenarios::run_scenario(sc, one);
  const auto parallel = scenarios::run_scenario(sc, two);
  expect(serial.replications.size() == 6 && parallel.replications.size() == 6, "six replications each");
  for (std::size_t r = 0; r < serial.replications.size() && r < parallel.replications.size(); ++r) {
    expect(serial.replications[r].transactions == parallel.replications[r].transactions &&
               serial.replications[r].events == parallel.replications[r].events,
           "replication " + std::to_string(r) + " differs between 1 and 2 threads");
    expect(serial.replications[r].transactions > 0, "replication " + std::to_string(r) + " ran no transaction");
  }

  // Progress is polled from this thread every 100 ms while two others simulate.
  scenarios::RunOptions watched;
  watched.threads = 2;
  std::atomic<int> calls{0};
  double last = -1;
  bool monotone = true;
  watched.on_progress = [&](double p) {
    monotone = monotone && p >= last - 1e-12 && p <= 1.0 + 1e-12;
    last = p;
    ++calls;
  };
  const auto observed = scenarios::run_scenario(scenario("3s", 4), watched);
  expect(observed.replications.size() == 4, "four replications with progress");
  expect(calls.load() >= 1 && last == 1.0, "progress ends at 1");
  expect(monotone, "progress never goes back and stays in [0, 1]");

  // Cancelled after the first poll: every thread must stop and run_scenario must throw RunCancelled.
  scenarios::RunOptions cancelled;
  cancelled.threads = 2;
  int polls = 0;
  cancelled.should_cancel = [&] { return ++polls >= 2; };
  bool threw = false;
  try {
    (void)scenarios::run_scenario(scenario("60s", 6), cancelled);
  } catch (const scenarios::RunCancelled&) {
    threw = true;
  }
  expect(threw, "a cancelled run throws RunCancelled");

  if (failures == 0) std::puts("tsan_replications: ok");
  return failures == 0 ? 0 : 1;
}
