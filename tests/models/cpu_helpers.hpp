// Test helpers for the CPU model: owners that record when bursts and event-loop items end, and hosts built in
// code.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "models/config.hpp"
#include "models/cpu.hpp"
#include "sim/simulation.hpp"
#include "sim/time.hpp"

namespace rpsim_test {

// Records when each burst (by tag) ended.
struct BurstLog final : models::BurstOwner {
  explicit BurstLog(sim::Simulation& s) : sim(s) {}
  void burst_done(std::uint64_t tag) override { done[tag] = sim.now(); }
  [[nodiscard]] std::uint64_t preempted() const { return preempted_; }
  sim::Simulation& sim;
  std::map<std::uint64_t, sim::Time> done;
};

// Records the order and time in which an event loop finished its items (by arg).
struct LoopLog final : models::EventLoop::Owner {
  explicit LoopLog(sim::Simulation& s) : sim(s) {}
  void work_done(std::uint32_t, std::uint64_t arg) override { done.emplace_back(arg, sim.now()); }
  sim::Simulation& sim;
  std::vector<std::pair<std::uint64_t, sim::Time>> done;
};

// A host of `cores` cores with `threads` hardware threads each, processor sharing.
inline models::HostConfig host(int cores, int threads) { return models::HostConfig{"h", 0, cores, threads}; }

}  // namespace rpsim_test
