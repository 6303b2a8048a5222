// Engine micro-benchmark: the classic hold model. N events are pending; each one that runs schedules one more at a
// random later time, so the queue stays at N while the engine pops and pushes. Prints events per CPU second.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "sim/random.hpp"
#include "sim/simulation.hpp"

namespace {

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Each event reschedules itself an exponential time later (mean 1 ms), the increment distribution of the
// classic hold benchmark; integer nanoseconds make ties rare but possible, as in a real model.
class Hold final : public sim::EventHandler {
 public:
  Hold(sim::Simulation& sim, std::uint64_t seed) : sim_(sim), rng_(seed, 0, "hold") {}
  void handle_event(std::uint32_t kind, std::uint64_t arg) override {
    sim_.schedule_in(delay(), this, kind, arg + 1);
  }
  sim::Time delay() { return static_cast<sim::Time>(rng_.exponential(1e6)); }

 private:
  sim::Simulation& sim_;
  sim::RandomStream rng_;
};

struct Result {
  double events_per_s;
  std::uint64_t checksum;  // the final clock: the same for every run of one (n, events, seed)
};

Result run_hold(std::size_t pending, std::uint64_t events, std::uint64_t seed) {
  sim::Simulation sim;
  Hold hold(sim, seed);
  for (std::size_t i = 0; i < pending; ++i) sim.schedule_at(hold.delay(), &hold, 0, 0);
  // Warm the queue into its steady state before timing, as hold benchmarks do.
  const std::uint64_t warm = std::min<std::uint64_t>(events / 10, 4 * pending + 1000);
  for (std::uint64_t i = 0; i < warm; ++i) sim.step();
  const double t0 = cpu_seconds();
  for (std::uint64_t i = 0; i < events; ++i) sim.step();
  const double t = cpu_seconds() - t0;
  return {static_cast<double>(events) / t, static_cast<std::uint64_t>(sim.now())};
}

}  // namespace

int main(int argc, char** argv) {
  // Usage: rpsim_engine_bench [events per size] [sizes...]
  const std::uint64_t events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20'000'000;
  std::vector<std::size_t> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {16, 1'000, 100'000, 1'000'000};
  std::printf("{\"benchmark\": \"hold\", \"events\": %llu, \"runs\": [", static_cast<unsigned long long>(events));
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const Result r = run_hold(sizes[i], events, 1);
    std::printf("%s{\"pending\": %zu, \"events_per_cpu_s\": %.0f, \"final_time_ns\": %llu}", i ? ", " : "",
                sizes[i], r.events_per_s, static_cast<unsigned long long>(r.checksum));
    std::fflush(stdout);
  }
  std::printf("]}\n");
  return 0;
}
