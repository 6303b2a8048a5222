// Tests of the simulation kernel: ordering, ties, cancellation, run_until, independence of two simulations.
#include <catch2/catch.hpp>

#include <vector>

#include "sim/simulation.hpp"

namespace {

struct Recorder final : sim::EventHandler {
  sim::Simulation* sim = nullptr;
  std::vector<std::pair<sim::Time, std::uint64_t>> seen;
  void handle_event(std::uint32_t, std::uint64_t arg) override { seen.emplace_back(sim->now(), arg); }
};

}  // namespace

TEST_CASE("events run in time order and ties in scheduling order", "[engine]") {
  // Expected: (5,a=1) (10,b=2) (10,c=3) (10,d=4) (20,e=5): time first, then the order they were scheduled.
  sim::Simulation s;
  Recorder r;
  r.sim = &s;
  s.schedule_at(10, &r, 0, 2);
  s.schedule_at(20, &r, 0, 5);
  s.schedule_at(10, &r, 0, 3);
  s.schedule_at(5, &r, 0, 1);
  s.schedule_at(10, &r, 0, 4);
  s.run();
  std::vector<std::pair<sim::Time, std::uint64_t>> expect{{5, 1}, {10, 2}, {10, 3}, {10, 4}, {20, 5}};
  REQUIRE(r.seen == expect);
  REQUIRE(s.events_executed() == 5);
}

TEST_CASE("a cancelled event never runs and its handle goes stale", "[engine]") {
  sim::Simulation s;
  Recorder r;
  r.sim = &s;
  auto a = s.schedule_at(10, &r, 0, 1);
  auto b = s.schedule_at(20, &r, 0, 2);
  REQUIRE(s.cancel(a));
  REQUIRE_FALSE(s.cancel(a));  // cancelling twice is harmless
  // The freed slot is reused by a new event; the old handle must not cancel it.
  auto c = s.schedule_at(15, &r, 0, 3);
  REQUIRE(c.slot == a.slot);
  REQUIRE_FALSE(s.cancel(a));
  REQUIRE(s.pending(c));
  s.run();
  std::vector<std::pair<sim::Time, std::uint64_t>> expect{{15, 3}, {20, 2}};
  REQUIRE(r.seen == expect);
  REQUIRE_FALSE(s.pending(b));
}

TEST_CASE("detached events keep the (time, sequence) order among heap, now-queue and cancelled events", "[engine]") {
  // Expected, by the engine's rule (time first, then scheduling order): the two heap events due at 10 (1, then 2,
  // scheduled before the run), then what event 1 scheduled for its own instant in the order it did so (10, 11,
  // 12, 14; 13 was cancelled), then 15 at 10 + 5, then 3 at 20.
  struct Script final : sim::EventHandler {
    sim::Simulation* sim = nullptr;
    std::vector<std::pair<sim::Time, std::uint64_t>> seen;
    void handle_event(std::uint32_t, std::uint64_t arg) override {
      seen.emplace_back(sim->now(), arg);
      if (arg != 1) return;
      sim->schedule_detached_in(0, this, 0, 10);
      sim->schedule_in(0, this, 0, 11);
      sim->schedule_detached_in(0, this, 0, 12);
      const sim::EventId dropped = sim->schedule_in(0, this, 0, 13);
      sim->schedule_detached_in(5, this, 0, 15);
      sim->schedule_detached_in(0, this, 0, 14);
      REQUIRE(sim->cancel(dropped));
    }
  };
  sim::Simulation s;
  Script r;
  r.sim = &s;
  s.schedule_at(10, &r, 0, 1);
  s.schedule_at(20, &r, 0, 3);
  s.schedule_at(10, &r, 0, 2);
  s.run();
  std::vector<std::pair<sim::Time, std::uint64_t>> expect{{10, 1},  {10, 2},  {10, 10}, {10, 11},
                                                          {10, 12}, {10, 14}, {15, 15}, {20, 3}};
  REQUIRE(r.seen == expect);
  REQUIRE(s.events_executed() == 8);
  REQUIRE(s.queued() == 0);
}

TEST_CASE("run_until stops at the horizon and advances the clock to it", "[engine]") {
  sim::Simulation s;
  Recorder r;
  r.sim = &s;
  s.schedule_at(10, &r, 0, 1);
  s.schedule_at(30, &r, 0, 2);
  s.run_until(20);
  REQUIRE(r.seen.size() == 1);
  REQUIRE(s.now() == 20);
  s.run_until(30);  // an event exactly at the horizon runs
  REQUIRE(r.seen.size() == 2);
}

TEST_CASE("a cancelled event at the front does not hide the horizon", "[engine]") {
  sim::Simulation s;
  Recorder r;
  r.sim = &s;
  auto a = s.schedule_at(5, &r, 0, 1);
  s.schedule_at(50, &r, 0, 2);
  s.cancel(a);
  s.run_until(10);
  REQUIRE(r.seen.empty());
  REQUIRE(s.now() == 10);
}

TEST_CASE("call_at runs functions in order and may schedule more", "[engine]") {
  sim::Simulation s;
  std::vector<int> order;
  s.call_at(5, [&] {
    order.push_back(1);
    s.call_at(7, [&] { order.push_back(3); });
  });
  s.call_at(6, [&] { order.push_back(2); });
  auto dropped = s.call_at(8, [&] { order.push_back(99); });
  s.cancel(dropped);
  s.run();
  REQUIRE(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("two simulations in one process are independent", "[engine]") {
  sim::Simulation s1, s2;
  Recorder r1, r2;
  r1.sim = &s1;
  r2.sim = &s2;
  s1.schedule_at(10, &r1, 0, 1);
  s2.schedule_at(3, &r2, 0, 2);
  s1.run();
  REQUIRE(s1.now() == 10);
  REQUIRE(s2.now() == 0);
  REQUIRE(r2.seen.empty());
}

TEST_CASE("a large random workload pops in nondecreasing (time, sequence) order", "[engine]") {
  // Heap property check: 100k events with many ties; each popped time >= the previous, ties by schedule order.
  sim::Simulation s;
  struct Checker final : sim::EventHandler {
    sim::Simulation* sim;
    sim::Time last_time = -1;
    std::uint64_t last_arg = 0;
    bool ok = true;
    void handle_event(std::uint32_t, std::uint64_t arg) override {
      if (sim->now() < last_time || (sim->now() == last_time && arg < last_arg)) ok = false;
      last_time = sim->now();
      last_arg = arg;
    }
  } c;
  c.sim = &s;
  std::uint64_t x = 12345;
  for (std::uint64_t i = 0; i < 100000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    s.schedule_at(static_cast<sim::Time>((x >> 33) % 1000), &c, 0, i);  // arg = schedule order
  }
  s.run();
  REQUIRE(c.ok);
  REQUIRE(s.events_executed() == 100000);
}

TEST_CASE("cancelled entries are purged from a large heap without changing the run order", "[engine]") {
  // Expected: of 4000 timers at t = 1000..4999, the 1000 kept (every fourth) run in time order; the heap is
  // rebuilt once cancelled entries pass a quarter of it, so far fewer than 4000 entries stay queued.
  sim::Simulation s;
  Recorder r;
  r.sim = &s;
  std::vector<sim::EventId> ids;
  for (int i = 0; i < 4000; ++i) ids.push_back(s.schedule_at(1000 + i, &r, 0, static_cast<std::uint64_t>(i)));
  for (int i = 0; i < 4000; ++i) {
    if (i % 4 != 0) REQUIRE(s.cancel(ids[static_cast<std::size_t>(i)]));
  }
  REQUIRE(s.queued() < 2000);
  for (int i = 0; i < 4000; i += 4) REQUIRE(s.pending(ids[static_cast<std::size_t>(i)]));
  s.run();
  REQUIRE(r.seen.size() == 1000);
  for (std::size_t k = 0; k < r.seen.size(); ++k) {
    REQUIRE(r.seen[k] == std::pair<sim::Time, std::uint64_t>{1000 + 4 * static_cast<sim::Time>(k), 4 * k});
  }
}
