// Replications over a pool of threads; each replication owns its whole world, so threads share nothing mutable.
#include "scenarios/run.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "models/world.hpp"

namespace scenarios {

RunOutput run_scenario(const Scenario& scenario, const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int n = scenario.run.replications;
  RunOutput out;
  out.replications.resize(static_cast<std::size_t>(n));
  const int threads = std::clamp(options.threads, 1, std::max(1, n));

  std::atomic<bool> cancel{false};
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::vector<std::atomic<double>> progress(static_cast<std::size_t>(n));
  for (auto& p : progress) p.store(0.0);
  std::mutex worlds_mutex;
  std::vector<models::World*> running(static_cast<std::size_t>(n), nullptr);

  auto worker = [&] {
    for (;;) {
      const int r = next.fetch_add(1);
      if (r >= n || cancel.load()) return;
      auto world = std::make_unique<models::World>(scenario.world, scenario.run.seed, static_cast<std::uint64_t>(r));
      {
        std::lock_guard lock(worlds_mutex);
        running[static_cast<std::size_t>(r)] = world.get();
      }
      out.replications[static_cast<std::size_t>(r)] = world->run(scenario.run.warmup, scenario.run.duration, &cancel);
      {
        std::lock_guard lock(worlds_mutex);
        running[static_cast<std::size_t>(r)] = nullptr;
      }
      progress[static_cast<std::size_t>(r)].store(1.0);
      done.fetch_add(1);
    }
  };

  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  if (options.on_progress || options.should_cancel) {
    // The calling thread reports progress and leaves the simulating to the others (plus one of its own below).
    std::thread last(worker);
    while (done.load() < n) {
      if (options.should_cancel && !cancel.load() && options.should_cancel()) cancel.store(true);
      double sum = 0;
      {
        std::lock_guard lock(worlds_mutex);
        for (int r = 0; r < n; ++r) {
          const auto* w = running[static_cast<std::size_t>(r)];
          sum += w ? w->progress() : progress[static_cast<std::size_t>(r)].load();
        }
      }
      if (options.on_progress) options.on_progress(sum / n);
      if (cancel.load()) break;  // workers stop within a slice and take no new replication
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    last.join();
    if (options.on_progress && !cancel.load()) options.on_progress(1.0);
  } else {
    worker();
  }
  for (auto& t : pool) t.join();
  if (cancel.load()) throw RunCancelled();
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace scenarios
