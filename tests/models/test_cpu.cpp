// Tests of the CPU model and the event loops on it: processor sharing, SMT, placement, the run queue with its
// slices and idle pulls, FIFO event loops, and what wake-ups cost (a loop's own, a wake-up onto an idle cpu, one
// that interrupts another cpu), alone and as a world adds them up. Each case states what it expects, and why,
// before asserting.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "models/cpu.hpp"
#include "sim/simulation.hpp"
#include "tests/models/cpu_helpers.hpp"
#include "tests/models/world_helpers.hpp"

using Catch::Matchers::WithinRel;
using namespace rpsim_test;

TEST_CASE("Cpu: two equal bursts on one hardware thread share it and finish together", "[world][cpu]") {
  // Processor sharing: two 1000 ns bursts started together on one thread each run at rate 1/2, so both finish
  // at 2000 ns (not 1000 and 2000 as FIFO would).
  sim::Simulation s;
  models::Cpu cpu(s, host(1, 1));
  BurstLog log(s);
  cpu.start(&log, 1, 1000, {});
  cpu.start(&log, 2, 1000, {});
  s.run();
  CHECK(log.done[1] == 2000);
  CHECK(log.done[2] == 2000);

  // Unequal bursts: 1000 and 3000 ns. Both run at 1/2 until the short one has had its 1000 ns of work at
  // 2000 ns; the long one then has 2000 ns left at rate 1 and ends at 4000 ns.
  cpu.start(&log, 3, 1000, {});
  cpu.start(&log, 4, 3000, {});
  s.run();
  CHECK(log.done[3] == 2000 + 2000);
  CHECK(log.done[4] == 2000 + 4000);
}

TEST_CASE("Cpu: a burst whose SMT sibling is busy runs at smt_pair_throughput / 2", "[world][cpu]") {
  // One core with two hardware threads (cpus 0 and 1), smt_pair_throughput 1.2 (the default): while both are
  // busy each runs at 0.6, so 600 ns of work on cpu 1 beside a long burst on cpu 0 takes 600 / 0.6 = 1000 ns.
  sim::Simulation s;
  models::Cpu cpu(s, host(1, 2));
  BurstLog log(s);
  CHECK(cpu.start(&log, 1, 1'000'000, {0}) == 0);
  CHECK(cpu.start(&log, 2, 600, {1}) == 1);
  s.run_until(10'000);
  CHECK(log.done[2] == 1000);
}

TEST_CASE("Cpu: rates change when the sibling's burst ends or starts", "[world][cpu]") {
  sim::Simulation s;
  models::Cpu cpu(s, host(1, 2));
  BurstLog log(s);
  SECTION("sibling ends") {
    // At t = 0: 300 ns on cpu 0 and 1000 ns on cpu 1, both at 0.6. Cpu 0's burst ends at 300 / 0.6 = 500 ns;
    // by then cpu 1 has done 300 ns, and its remaining 700 ns run alone at rate 1: it ends at 1200 ns.
    cpu.start(&log, 1, 300, {0});
    cpu.start(&log, 2, 1000, {1});
    s.run();
    CHECK(log.done[1] == 500);
    CHECK(log.done[2] == 1200);
  }
  SECTION("sibling starts later") {
    // 1000 ns on cpu 0 at t = 0 runs alone until t = 500 (500 ns done). Then 300 ns start on cpu 1; both run
    // at 0.6: cpu 1's burst ends at 500 + 300 / 0.6 = 1000 ns, by when cpu 0 has done 300 more (800 in all);
    // its last 200 ns run alone again and it ends at 1200 ns.
    cpu.start(&log, 1, 1000, {0});
    s.run_until(500);
    cpu.start(&log, 2, 300, {1});
    s.run();
    CHECK(log.done[2] == 1000);
    CHECK(log.done[1] == 1200);
  }
}

TEST_CASE("Cpu: placement prefers an idle core over an idle sibling thread", "[world][cpu]") {
  // Two cores with two threads each: cpus 0 and 2 are core 0, cpus 1 and 3 core 1 (cpu = thread * cores +
  // core). Unpinned bursts go to an idle thread on an idle core first: 0, then 1 (not 2, the busy core's
  // sibling), then the idle threads beside busy ones, lowest id first: 2, then 3; then the least loaded
  // thread: 0.
  sim::Simulation s;
  models::Cpu cpu(s, host(2, 2));
  BurstLog log(s);
  CHECK(cpu.start(&log, 1, 10'000, {}) == 0);
  CHECK(cpu.start(&log, 2, 10'000, {}) == 1);
  CHECK(cpu.start(&log, 3, 10'000, {}) == 2);
  CHECK(cpu.start(&log, 4, 10'000, {}) == 3);
  CHECK(cpu.start(&log, 5, 10'000, {}) == 0);
  CHECK(cpu.core_of(2) == 0);
  CHECK(cpu.core_of(3) == 1);
  // Pinning is obeyed even when an idle core exists elsewhere.
  sim::Simulation s2;
  models::Cpu cpu2(s2, host(2, 2));
  CHECK(cpu2.start(&log, 6, 10'000, {0}) == 0);
  CHECK(cpu2.start(&log, 7, 10'000, {0, 2}) == 2);
}

namespace {
models::HostConfig run_queue_host(int cores, Time timeslice) {
  models::HostConfig h = host(cores, 1);
  h.timeslice = timeslice;
  return h;
}
models::HostConfig eevdf_host(int cores, Time timeslice) {
  models::HostConfig h = run_queue_host(cores, timeslice);
  h.scheduler = models::HostConfig::Scheduler::kEevdf;
  return h;
}
}  // namespace

TEST_CASE("Cpu with a run queue: the head runs alone, slices rotate, an idle thread pulls waiting work",
          "[world][cpu]") {
  sim::Simulation s;
  BurstLog log(s), a(s), b(s), c(s), warm(s);
  const std::vector<int> any, only0{0}, only1{1}, both{0, 1};
  // Two cores; A, B and C are processes of their own. A (1000 ns) pinned to cpu 0, B (500 ns) pinned to cpu 1;
  // C (1000 ns, either cpu) finds both busy with one burst each and queues on the lowest, cpu 0, behind A.
  const auto start_a_b_c = [&](models::Cpu& cpu) {
    CHECK(cpu.start(&a, 1, 1000, only0) == 0);
    CHECK(cpu.start(&b, 2, 500, only1) == 1);
    CHECK(cpu.start(&c, 3, 1000, both) == 0);
  };
  SECTION("bursts wait their turn whole") {
    // Two 1000 ns bursts started together on one thread with 10 us slices: the first runs alone at full speed
    // and ends at 1000 ns, the second then ends at 2000 ns (processor sharing ends both at 2000).
    models::Cpu cpu(s, run_queue_host(1, 10'000));
    cpu.start(&log, 1, 1000, any);
    cpu.start(&log, 2, 1000, any);
    s.run();
    CHECK(log.done[1] == 1000);
    CHECK(log.done[2] == 2000);
  }
  SECTION("a slice that runs out sends the head to the back") {
    // Slices of 2000 ns. A (5000 ns) runs 0-2000, its slice runs out while B (1000 ns) waits: B runs 2000-3000;
    // A, alone again, does its last 3000 ns from 3000 and ends at 6000 (alone, it is never preempted).
    models::Cpu cpu(s, run_queue_host(1, 2000));
    cpu.start(&log, 1, 5000, any);
    cpu.start(&log, 2, 1000, any);
    s.run();
    CHECK(log.done[2] == 3000);
    CHECK(log.done[1] == 6000);
  }
  SECTION("an idle thread pulls the oldest waiting burst it may run") {
    // A, B and C as above. At 500 ns cpu 1 goes idle and pulls C, whose process has not run yet (so it is not
    // cache-hot): C ends at 1500 ns (2000 ns had it waited for A).
    models::Cpu cpu(s, run_queue_host(2, 10'000));
    start_a_b_c(cpu);
    s.run();
    CHECK(a.done[1] == 1000);
    CHECK(b.done[2] == 500);
    CHECK(c.done[3] == 1500);
  }
  SECTION("an idle thread leaves a cache-hot burst where it waits (Linux's task_hot)") {
    // As above, but C's process ran a burst of 100 ns on cpu 1 until just before: it left a cpu 0 ns ago, less
    // than the 0.5 ms migration cost, so at 500 ns cpu 1 leaves it queued behind A (balancing has not failed
    // yet, so cache_nice_tries does not let hot tasks go): C ends at 100 + 2000 = 2100 ns. The balancing tick (every
    // 4 ms) comes too late to matter.
    models::Cpu cpu(s, run_queue_host(2, 10'000));
    cpu.start(&c, 9, 100, only1);
    s.run_until(100);
    start_a_b_c(cpu);
    s.run();
    CHECK(b.done[2] == 600);
    CHECK(c.done[3] == 2100);
  }
  SECTION("a thread whose idle gaps are short does not pull (Linux's avg_idle below a balancing pass's cost)") {
    // Cpu 1 first runs 48 bursts of 100 ns with 100 ns idle between them: each wake-up moves its average idle
    // time 1/8 of the way to the gap, from 1 ms to about 100 + 999,900 x (7/8)^48 = 1,745 ns (B's wake-up below
    // keeps it there), under the 5 us a newidle balance costs (since Linux 5.16 the test is against that cost, not
    // the 0.5 ms migration cost). Then the set-up above, from t = 9600: C (cold) queues behind A on cpu 0, and
    // cpu 1, idle again at 10100, leaves it there: C ends at 9600 + 2000 = 11600, before the first balancing tick
    // (4 ms after C queued).
    models::Cpu cpu(s, run_queue_host(2, 10'000));
    for (int i = 0; i < 48; ++i) {
      s.run_until(200 * i);
      cpu.start(&warm, 10 + static_cast<std::uint64_t>(i), 100, only1);
    }
    s.run_until(9600);
    start_a_b_c(cpu);
    s.run();
    CHECK(b.done[2] == 10100);
    CHECK(a.done[1] == 10600);
    CHECK(c.done[3] == 11600);
  }
}

TEST_CASE("Cpu with a run queue: a wake-up goes where Linux's select_task_rq_fair puts it", "[world][cpu]") {
  // Three cpus, run queue with long slices (1 s, so nothing rotates). P ran last on cpu 1 (a 10 ns burst at 0),
  // where X now runs for 200 ms. W runs on cpu 0 until 100 ms and goes on there with 1 ms more (a process that
  // sends, then has more to do); at that instant it wakes P (a sync wake-up: W's burst just ended on cpu 0).
  // wake_affine(): W is the only task on its cpu, so the target is W's cpu 0. select_idle_sibling(): cpu 0 is not
  // idle (W goes on), nor is P's previous cpu 1; then it scans for an idle cpu, as far as SIS_UTIL allows: with
  // utilisation u (Linux's 32 ms average), budget = 3 x (1 - min(1, 1.17 u)^2) cpus.
  sim::Simulation s;
  models::Cpu cpu(s, run_queue_host(3, 1'000'000'000));
  BurstLog p(s), x(s), w(s), z(s);
  const std::vector<int> any, only0{0}, only1{1}, only2{2};
  cpu.start(&p, 1, 10, only1);
  cpu.start(&x, 2, 200'000'000, only1);
  SECTION("busy cpus: no idle scan, P queues behind its waker while cpu 2 idles") {
    // W on cpu 0 and Z on cpu 2 run from 0; Z ends at 99 ms. The first 100 ms averaged to u = 0.885 x (3 cpus
    // busy 99.67 % of the time) = 0.882 (0.885 = 1 - 2^(-100/32), the average starting from 0): 1.17 u > 1, no
    // budget. P goes to cpu 0 behind W's 1 ms and ends at 101.05 ms; the balancing tick (104 ms) is later.
    cpu.start(&w, 3, 100'000'000, only0);
    cpu.start(&z, 4, 99'000'000, only2);
    s.run_until(100'000'000);
    CHECK(z.done[4] == 99'000'000);
    CHECK(w.done[3] == 100'000'000);
    CHECK(cpu.start(&w, 5, 1'000'000, only0, /*goes_on=*/true) == 0);
    models::Cpu::Wakeup woke;
    CHECK(cpu.start(&p, 6, 50'000, any, false, &woke) == 0);
    CHECK(!woke.idle);
    s.run_until(150'000'000);
    CHECK(p.done[6] == 101'050'000);
  }
  SECTION("quiet cpus: the scan finds cpu 2 idle") {
    // W runs only from 99.9 ms; cpu 2 has been idle all along: u = 0.885 x (100 + 0.1 ms of 300) = 0.295, and
    // budget = int(3 x (1 - 0.345^2)) = 2: the scan from cpu 1 (busy) reaches cpu 2, which P wakes (an idle
    // cpu: woke.idle) and ends on at 100.05 ms.
    s.run_until(99'900'000);
    cpu.start(&w, 3, 100'000, only0);
    s.run_until(100'000'000);
    CHECK(w.done[3] == 100'000'000);
    CHECK(cpu.start(&w, 5, 1'000'000, only0, /*goes_on=*/true) == 0);
    models::Cpu::Wakeup woke;
    CHECK(cpu.start(&p, 6, 50'000, any, false, &woke) == 2);
    CHECK(woke.idle);
    s.run_until(150'000'000);
    CHECK(p.done[6] == 100'050'000);
  }
}

TEST_CASE("Cpu with a run queue: the balancing tick moves work that newidle balancing left", "[world][cpu]") {
  // Two cpus, long slices. C's process runs 10 ns on cpu 0, then queues there (at 10 ns) behind A (10 ms); B runs
  // 300 ns on cpu 1. When B ends at 310 ns, cpu 1 goes idle but leaves C: C's process left a cpu 300 ns ago, less
  // than the 0.5 ms migration cost (cache-hot). At the next scheduler tick (4 ms at HZ=250, armed when C queued)
  // the idle cpu 1 balances again; C is cold by then and moves: it ends at 4 + 1 = 5 ms, not after A at 11 ms.
  // (Until this test, a pulled burst was charged the idle thread's idle time as work: it ended at 4 ms.)
  sim::Simulation s;
  models::Cpu cpu(s, run_queue_host(2, 1'000'000'000));
  BurstLog a(s), b(s), c(s);
  const std::vector<int> any, only0{0}, only1{1};
  CHECK(cpu.start(&c, 1, 10, only0) == 0);
  s.run_until(10);
  CHECK(cpu.start(&a, 2, 10'000'000, only0) == 0);
  CHECK(cpu.start(&b, 3, 300, only1) == 1);
  CHECK(cpu.start(&c, 4, 1'000'000, any) == 0);  // both cpus busy, equal queues: the lowest
  s.run_until(3'000'000);
  CHECK(b.done[3] == 310);
  CHECK(c.done.count(4) == 0);
  s.run();
  CHECK(c.done[4] == 5'000'000);
  CHECK(a.done[2] == 10'000'010);
}

TEST_CASE("EEVDF run queue: lag decides who runs next, and a negative lag wears off in sleep", "[world][cpu]") {
  // Linux's EEVDF with equal weights (kernel/sched/fair.c): v is a process's virtual runtime (it grows by the time
  // it runs), V the queue's average v, d = v + slice its virtual deadline. Next runs the eligible one (v <= V)
  // with the earliest d, a waiting one before the running one on a tie. A process that sleeps keeps its lag
  // V - v and wakes at v = V - lag x (n + 1) / n among n others. A wake-up preempts the running process when
  // the woken one is what the queue would pick now, unless the running one is still eligible (RUN_TO_PARITY).
  // One thread, slices of 1000 ns; each owner is a process of its own.
  sim::Simulation s;
  models::Cpu cpu(s, eevdf_host(1, 1000));
  const std::vector<int> any;
  BurstLog a(s), b(s), c(s), heavy(s), light(s), fresh(s);
  SECTION("a process that ran less than its share runs before an older newcomer (FIFO would run the newcomer)") {
    // t = 0: heavy (3000 ns) and light (100) start, both at v = 0, d = 1000. heavy runs to its slice's end at
    // 1000 (v 1000, d 2000); V = 500, so light is eligible and runs 1000-1100; it sleeps with v 100 beside
    // heavy's 1000: lag 550 - 100 = 450. heavy runs on from 1100. At 1500 a fresh process (100 ns) joins at
    // V = heavy's 1400 (d 2400); V stays 1400 and heavy, not ahead of it, keeps the cpu (RUN_TO_PARITY). Then
    // light (100 ns) wakes with its lag: 450 x 3/2 = 675 below V = 1400, at v 725 (d 1725). Now V = (1400 +
    // 1400 + 725) / 3 = 1175: heavy is ahead of it, and light, the only eligible one, preempts it: 1500-1600.
    // Then V = 1400: heavy (d 2000) before fresh (d 2400); heavy runs the rest of its slice, 600 ns, to 2200
    // (v 2000, d 3000); V = 1700, the fresh one runs 2200-2300; heavy does its last 1000 ns by 3300. (Without
    // wake-up preemption light would have waited until heavy's slice ended at 2100, and ended at 2200.)
    cpu.start(&heavy, 1, 3000, any);
    cpu.start(&light, 2, 100, any);
    s.run_until(1500);
    CHECK(light.done[2] == 1100);
    cpu.start(&fresh, 3, 100, any);
    cpu.start(&light, 4, 100, any);
    s.run();
    CHECK(light.done[4] == 1600);
    CHECK(fresh.done[3] == 2300);
    CHECK(heavy.done[1] == 3300);
    CHECK(heavy.preempted() == 1);  // by light at 1500; its slice's end at 1000 and 2200 are not preemptions
    CHECK(light.preempted() == 0);
    CHECK(fresh.preempted() == 0);
  }
  // t = 0: a (1500 ns) and b (2000), both v 0, d 1000. a runs 0-1000 (v 1000, d 2000); V = 500: b runs 1000-2000
  // (v 1000, d 2000); both eligible at V = 1000 with the same deadline: a, waiting, goes first and ends at 2500
  // with v 1500 beside b's 1000: lag 1250 - 1500 = -250. b runs 2500-3500. At `wake`, a wakes (100 ns) and a new
  // process c (100 ns) joins.
  const auto a_b_then_a_and_c_at = [&](Time wake) {
    cpu.start(&a, 1, 1500, any);
    cpu.start(&b, 2, 2000, any);
    s.run_until(wake);
    cpu.start(&a, 3, 100, any);
    cpu.start(&c, 4, 100, any);
    s.run();
    CHECK(a.done[1] == 2500);
    CHECK(b.done[2] == 3500);
  };
  SECTION("a process that ran more than its share waits behind a newcomer") {
    // At 2600 (b's v 1100) a wakes still 400 ahead of V, so its lag is still -250: x 2 / 1, v = 1600 (d 2600). c
    // joins at V = 1350 (d 2350). When b ends at 3500, V = (1600 + 1350) / 2 = 1475: only c is eligible, it runs
    // 3500-3600, then a 3600-3700.
    a_b_then_a_and_c_at(2600);
    CHECK(c.done[4] == 3600);
    CHECK(a.done[3] == 3700);
  }
  SECTION("a negative lag wears off while the process sleeps (the kernel's delayed dequeue)") {
    // The same, but a wakes at 3000, when b's v (1500) has caught up with a's: nothing is left of the lag, a joins
    // at v 1500 and c beside it at V = 1500, the same deadline 2500: a, queued first, runs first.
    a_b_then_a_and_c_at(3000);
    CHECK(a.done[3] == 3600);
    CHECK(c.done[4] == 3700);
  }
}

TEST_CASE("EEVDF wake-up preemption: only a wakee that is the queue's pick preempts", "[world][cpu]") {
  // Linux preempts on a wake-up when pick_eevdf() returns the woken task. The running one counts only while it is
  // eligible (RUN_TO_PARITY); once it is ahead of the average V, the pick is the eligible waiting one with the
  // earliest deadline, and that need not be the wakee. One thread, slices of 2000 ns.
  // t = 0: w (1000 ns) and h (5000) start at v 0, d 2000; w runs first and ends at 1000 with v 1000 beside h's 0:
  // lag 500 - 1000 = -500. h runs alone from 1000 (d 2000: its slice ends at 3000).
  // t = 1300 (h's v 300): w wakes (100 ns) with its lag, still 700 ahead of V, so -500 x 2/1: v 1300, d 3300;
  // V = 800 and h is eligible: no preemption. x (100 ns, new) joins at V = 800 (d 2800); V stays 800: h keeps
  // the cpu.
  // t = 2100 (h's v 1100): y (100 ns, new) joins at V = (1100 + 1300 + 800) / 3 = 1066.7 (d 3066.7). h is now ahead
  // of V, y is eligible, but x (v 800, d 2800) has the earlier deadline: the pick is x, not y, so nothing is
  // preempted and h runs to its slice's end at 3000 (v 2000, d 4000).
  // t = 3000: V = 1291.7; x (d 2800) runs 3000-3100; then V = 1455.6 and y (d 3066.7) before w (d 3300): y
  // 3100-3200, w 3200-3300; h does its last 3000 ns by 6300. (Had y preempted h at 2100, it would have ended at
  // 2200.)
  sim::Simulation s;
  models::Cpu cpu(s, eevdf_host(1, 2000));
  const std::vector<int> any;
  BurstLog h(s), w(s), x(s), y(s);
  cpu.start(&w, 1, 1000, any);
  cpu.start(&h, 2, 5000, any);
  s.run_until(1300);
  cpu.start(&w, 3, 100, any);
  cpu.start(&x, 4, 100, any);
  s.run_until(2100);
  cpu.start(&y, 5, 100, any);
  s.run();
  CHECK(w.done[1] == 1000);
  CHECK(x.done[4] == 3100);
  CHECK(y.done[5] == 3200);
  CHECK(w.done[3] == 3300);
  CHECK(h.done[2] == 6300);
  CHECK(h.preempted() == 0);
}

TEST_CASE("EventLoop on a run queue: a loop with more work keeps the cpu until its slice runs out",
          "[world][cpu]") {
  // One thread. Loop L gets items 1 and 2 (100 ns each) at t = 0; loop M gets item 3 (100 ns) at t = 50.
  // Slices of 10 us: L never leaves the cpu, so 1 ends at 100, 2 at 200, and M's 3 (waiting since 50) at 300.
  // Slices of 150 ns: L goes on with 2 at 100 in the slice it started at 0, which runs out at 150; M's 3 runs
  // 150-250, and L's 2 its last 50 ns, ending at 300.
  // Run delays: with long slices L waits 0 and M 150 ns (50 to 300 for 100 of work); with short ones L 100 (its
  // second item took 200 ns for 100) and M 100 (50 to 250).
  using P = std::pair<std::uint64_t, Time>;
  struct Run {
    std::vector<P> done;
    double l_delay, m_delay;
  };
  const auto run = [](Time slice) {
    sim::Simulation s;
    models::Cpu cpu(s, run_queue_host(1, slice));
    LoopLog log(s);
    models::EventLoop l(s, cpu, log, {}), m(s, cpu, log, {});
    l.post(0, 1, 100);
    l.post(0, 2, 100);
    s.run_until(50);
    m.post(0, 3, 100);
    s.run();
    return Run{log.done, l.run_delay_seconds(s.now()), m.run_delay_seconds(s.now())};
  };
  const Run long_slices = run(10'000), short_slices = run(150);
  CHECK(long_slices.done == std::vector<P>{{1, 100}, {2, 200}, {3, 300}});
  CHECK(short_slices.done == std::vector<P>{{1, 100}, {3, 250}, {2, 300}});
  CHECK(long_slices.l_delay == Approx(0).margin(1e-15));
  CHECK(long_slices.m_delay == Approx(150e-9).epsilon(1e-9));
  CHECK(short_slices.l_delay == Approx(100e-9).epsilon(1e-9));
  CHECK(short_slices.m_delay == Approx(100e-9).epsilon(1e-9));
}

TEST_CASE("Run queue: M/M/1 response times are exponential, as FCFS makes them", "[world][cpu][queueing]") {
  // Poisson queries at lambda to backends that all share one db core, exponential CPU (mean S = 1 ms), slices
  // far longer than any burst: the core serves bursts first come, first served, so this is M/M/1 FCFS, whose
  // response time is exponential with rate mu - lambda (Kleinrock, Queueing Systems vol. 1, 3.2). At rho = 0.5:
  // mean 2 ms, median ln 2 x 2 = 1.386 ms, p99 ln 100 x 2 = 9.210 ms. Processor sharing has the same mean but
  // not the same tail; the histogram's buckets are at most 1/128 wide.
  const double s_ms = 1.0, rho = 0.5;
  WorldConfig w = minimal_world(1, 1);
  w.hosts[1].timeslice = 1 * sim::kSecond;
  w.clients[0].server_cpu = Distribution::exponential(static_cast<Time>(s_ms * 1e6));
  make_open_loop(w.clients[0], 1000, rho / (s_ms * 1e-3));
  const Replications r = replicate(w, 4, 2 * sim::kSecond, 100 * sim::kSecond);
  const double w_ms = s_ms / (1 - rho);
  for (const auto& run : r.runs) {
    const double median = static_cast<double>(run.latency.quantile(0.5)) / 1e6;
    const double p99 = static_cast<double>(run.latency.quantile(0.99)) / 1e6;
    INFO("mean " << run.latency.mean() / 1e6 << " ms, median " << median << ", p99 " << p99);
    CHECK_THAT(run.latency.mean() / 1e6, WithinRel(w_ms, 0.05));
    CHECK_THAT(median, WithinRel(std::log(2.0) * w_ms, 0.05));
    CHECK_THAT(p99, WithinRel(std::log(100.0) * w_ms, 0.08));
  }
}

TEST_CASE("EventLoop: items run FIFO, one at a time; zero-cost items run at once", "[world][cpu]") {
  // Items of 100, 200 and 300 ns posted together on one loop (one thread to itself) run one after another
  // at full speed: they finish at 100, 300 and 600 ns in posting order. A zero-cost item posted meanwhile
  // does not queue behind them: it completes at the instant it is posted.
  sim::Simulation s;
  models::Cpu cpu(s, host(1, 1));
  LoopLog log(s);
  models::EventLoop loop(s, cpu, log, {});
  loop.post(0, 1, 100);
  loop.post(0, 2, 200);
  loop.post(0, 3, 300);
  CHECK(loop.queued() == 2);
  s.run_until(150);
  loop.post(0, 4, 0);
  s.run();
  using P = std::pair<std::uint64_t, Time>;
  CHECK(log.done == std::vector<P>{{1, 100}, {4, 150}, {2, 300}, {3, 600}});
  // Two loops on one thread share it (processor sharing between processes, FIFO within each): 400 ns each,
  // posted together, both end at 800 ns.
  LoopLog log2(s);
  models::EventLoop a(s, cpu, log2, {}), b(s, cpu, log2, {});
  const Time t0 = s.now();
  a.post(0, 10, 400);
  b.post(0, 11, 400);
  s.run();
  CHECK(log2.done == std::vector<P>{{10, t0 + 800}, {11, t0 + 800}});
}

namespace {
// Logs when each item ends, and posts item `follow` (`cost` ns) to `loop` when item `trigger` completes, as a
// pooler loop forwards what it just read (to itself) or a process wakes another as it goes to sleep.
struct ChainLog final : models::EventLoop::Owner {
  explicit ChainLog(sim::Simulation& s, std::uint64_t trigger_item = 5, std::uint64_t follow_item = 6,
                    Time follow_cost = 100)
      : sim(s), trigger(trigger_item), follow(follow_item), cost(follow_cost) {}
  void work_done(std::uint32_t, std::uint64_t arg) override {
    done.emplace_back(arg, sim.now());
    if (arg == trigger) loop->post(0, follow, cost);
  }
  sim::Simulation& sim;
  std::uint64_t trigger, follow;
  Time cost;
  models::EventLoop* loop = nullptr;
  std::vector<std::pair<std::uint64_t, Time>> done;
};
}  // namespace

TEST_CASE("EventLoop on a run queue: work a burst's own effects post at its end goes on on the same cpu",
          "[world][cpu]") {
  // One thread, slices of 10 us. Loop L runs item 5 (100 ns) from 0; loop M posts item 3 (100 ns) at 50, which
  // waits. When 5 ends at 100, its effects post L's item 6 (100 ns) at that instant: L never left the cpu, so
  // 6 runs first and ends at 200, and M's 3 at 300 (were 6 a new wake-up, M, waiting since 50, would go first).
  sim::Simulation s;
  models::Cpu cpu(s, run_queue_host(1, 10'000));
  ChainLog log(s);
  LoopLog other(s);
  models::EventLoop l(s, cpu, log, {}), m(s, cpu, other, {});
  log.loop = &l;
  l.post(0, 5, 100);
  s.run_until(50);
  m.post(0, 3, 100);
  s.run();
  using P = std::pair<std::uint64_t, Time>;
  CHECK(log.done == std::vector<P>{{5, 100}, {6, 200}});
  CHECK(other.done == std::vector<P>{{3, 300}});
}

TEST_CASE("EventLoop on a run queue: a burst that an idle cpu pulled goes on there", "[world][cpu]") {
  // Two cpus, slices of 10 us. A (5000 ns) pinned to cpu 0 and B (500 ns) pinned to cpu 1 start at 0; loop L's
  // item 1 (1000 ns, any cpu) finds both busy and queues behind A. At 500 cpu 1 goes idle and pulls it: it runs
  // 500-1500. D (300 ns, pinned to cpu 1) queues behind it at 1200. When 1 ends at 1500 its effects post L's item 9
  // (100 ns): L never left cpu 1, so 9 runs first and ends at 1600, and D at 1900. (Were L taken to be still on
  // cpu 0, where its burst started, 9 would be placed afresh: cpu 0 and cpu 1 each have one burst, the lowest wins,
  // and 9 would wait for A until 5000 and end at 5100.)
  sim::Simulation s;
  models::Cpu cpu(s, run_queue_host(2, 10'000));
  const std::vector<int> only0{0}, only1{1};
  BurstLog bursts(s);
  ChainLog log(s, 1, 9, 100);
  models::EventLoop l(s, cpu, log, {});
  log.loop = &l;
  CHECK(cpu.start(&bursts, 1, 5000, only0) == 0);
  CHECK(cpu.start(&bursts, 2, 500, only1) == 1);
  l.post(0, 1, 1000);
  CHECK(l.last_cpu() == 0);
  s.run_until(1200);
  CHECK(l.last_cpu() == 1);
  cpu.start(&bursts, 4, 300, only1);
  s.run();
  using P = std::pair<std::uint64_t, Time>;
  CHECK(log.done == std::vector<P>{{1, 1500}, {9, 1600}});
  CHECK(bursts.done[4] == 1900);
  CHECK(bursts.done[1] == 5000);
}

TEST_CASE("EventLoop: a wake-up cost is paid once per busy period", "[world][cpu]") {
  // Wake-up 50 ns. At t = 10 two items of 100 and 200 ns reach the idle loop: one wake-up, so they end at
  // 10 + 50 + 100 = 160 and 160 + 200 = 360. At t = 1000 item 5 (100 ns) wakes it again: ends at 1150; the
  // item it posts at that instant (6, 100 ns) finds the loop still in its batch: no wake-up, ends at 1250.
  // CPU: the items' 100 + 200 + 100 + 100 ns plus 2 wake-ups of 50 ns = 600 ns.
  sim::Simulation s;
  models::Cpu cpu(s, host(1, 1));
  ChainLog log(s);
  models::EventLoop loop(s, cpu, log, {});
  log.loop = &loop;
  loop.set_wakeup_cost(50);
  s.run_until(10);
  loop.post(0, 1, 100);
  loop.post(0, 2, 200);
  s.run_until(1000);
  loop.post(0, 5, 100);
  s.run();
  using P = std::pair<std::uint64_t, Time>;
  CHECK(log.done == std::vector<P>{{1, 160}, {2, 360}, {5, 1150}, {6, 1250}});
  CHECK(loop.wakeups() == 2);
  CHECK(loop.cpu_seconds() == Approx(600e-9).epsilon(1e-12));
}

namespace {
struct Nothing final : models::EventLoop::Owner {
  void work_done(std::uint32_t, std::uint64_t) override {}
};
}  // namespace

TEST_CASE("EventLoop: a wake-up onto an idle cpu costs the host's idle_wakeup and waits its wakeup_latency",
          "[world][cpu]") {
  // One cpu, idle_wakeup 30 ns, wakeup_latency 40 ns. At t = 10 loop A gets item 1 (100 ns) on a cpu idle since
  // t = 0: it runs 130 ns from 50 and ends at 180, where it hands item 9 (50 ns) to loop B on the cpu that went
  // idle at that very instant (handed over, not woken): no cost, no latency, B ends at 230. At t = 1000 loop C
  // gets 1000 ns on the cpu idle since 230 (1030 ns of CPU), and at t = 1100 loop D gets 100 ns while C holds the
  // cpu: D's wake-up finds it busy and costs nothing extra (100 ns). The latency is nobody's CPU.
  // Run delay (time runnable but not running, less the latency): 0 for A (170 ns from 10 to 180 = 130 of work +
  // 40 of latency) and B. C holds 1070 ns (its CPU and the latency) and has done 100 when D joins at 1100; the two
  // share the thread at half speed until D's 100 ns are done at 1300; C, alone, ends at 1300 + 870 = 2170. So C
  // ran 1170 ns for 1030 of work and 40 of latency (delay 100), and D 200 ns for 100 (delay 100).
  sim::Simulation s;
  models::HostConfig h = host(1, 1);
  h.idle_wakeup = 30;
  h.wakeup_latency = 40;
  models::Cpu cpu(s, h);
  ChainLog log(s, 1, 9, 50);
  Nothing none;
  models::EventLoop a(s, cpu, log, {}), b(s, cpu, log, {}), c(s, cpu, none, {}), d(s, cpu, none, {});
  log.loop = &b;
  s.run_until(10);
  a.post(0, 1, 100);
  s.run_until(1000);
  using P = std::pair<std::uint64_t, Time>;
  CHECK(log.done == std::vector<P>{{1, 180}, {9, 230}});
  c.post(0, 2, 1000);
  s.run_until(1100);
  d.post(0, 3, 100);
  s.run();
  CHECK(a.cpu_seconds() == Approx(130e-9).epsilon(1e-12));
  CHECK(b.cpu_seconds() == Approx(50e-9).epsilon(1e-12));
  CHECK(c.cpu_seconds() == Approx(1030e-9).epsilon(1e-12));
  CHECK(d.cpu_seconds() == Approx(100e-9).epsilon(1e-12));
  CHECK(a.wakeups() + b.wakeups() + c.wakeups() + d.wakeups() == 4);
  CHECK(a.idle_wakeups() == 1);
  CHECK(b.idle_wakeups() == 0);
  CHECK(c.idle_wakeups() == 1);
  CHECK(d.idle_wakeups() == 0);
  CHECK(a.run_delay_seconds(s.now()) == Approx(0).margin(1e-15));
  CHECK(b.run_delay_seconds(s.now()) == Approx(0).margin(1e-15));
  CHECK(c.run_delay_seconds(s.now()) == Approx(100e-9).epsilon(1e-9));
  CHECK(d.run_delay_seconds(s.now()) == Approx(100e-9).epsilon(1e-9));
}

TEST_CASE("EventLoop: a wake-up from another cpu onto an idle one costs the host's ipi_wakeup", "[world][cpu]") {
  // Two cores, EEVDF with 10 us slices, ipi_wakeup 30 ns (idle_wakeup and wakeup_latency 0). At t = 10 loop A
  // (pinned to cpu 0) gets item 1 (100 ns) from outside: cpu 0 is idle but no burst ended at that instant, so
  // nothing interrupted it from another cpu (a timer's wake-up): 100 ns, ending at 110. Then, at 110, item 9
  // (50 ns) reaches loop B, as a message A sent at the end of its burst reaches its receiver (after the burst's
  // end is done, at the same instant): the waker is cpu 0, whose burst ended then.
  // B pinned to cpu 1 (idle): Linux would send cpu 1 an interprocessor interrupt, so B does 50 + 30 = 80 ns and
  // ends at 190 (an idle wake-up as well). B pinned to cpu 0: the waker's own cpu takes it over, no interrupt and
  // no idle wake-up: 50 ns, ending at 160.
  for (const int b_cpu : {1, 0}) {
    sim::Simulation s;
    models::HostConfig h = eevdf_host(2, 10'000);
    h.ipi_wakeup = 30;
    models::Cpu cpu(s, h);
    LoopLog log(s);
    models::EventLoop a(s, cpu, log, {0}), b(s, cpu, log, {b_cpu});
    s.run_until(10);
    a.post(0, 1, 100);
    s.run_until(110);
    b.post(0, 9, 50);
    s.run();
    using P = std::pair<std::uint64_t, Time>;
    const bool remote = b_cpu == 1;
    CHECK(log.done == std::vector<P>{{1, 110}, {9, remote ? 190 : 160}});
    CHECK(a.cpu_seconds() == Approx(100e-9).epsilon(1e-12));
    CHECK(b.cpu_seconds() == Approx((remote ? 80e-9 : 50e-9)).epsilon(1e-12));
    CHECK(a.ipi_wakeups() == 0);
    CHECK(b.ipi_wakeups() == (remote ? 1U : 0U));
    CHECK(a.idle_wakeups() + b.idle_wakeups() == (remote ? 2U : 1U));  // counted whatever they cost
  }
}

TEST_CASE("EventLoop: a message handled on another cpu than its sender's costs the host's cross_cpu_message",
          "[world][cpu]") {
  // Two cores, EEVDF with 10 us slices, cross_cpu_message 20 ns (no other wake-up cost). Loop A is pinned to cpu 0
  // and runs item 1 (100 ns) from t = 10 to 110; at 110 item 9 (50 ns) reaches loop B, as a message A sent at the
  // end of its burst reaches its receiver: the sender is cpu 0, whose burst ended at that instant.
  // - B pinned to cpu 1, idle: it handles the message on another cpu, 50 + 20 = 70 ns, 110-180.
  // - B pinned to cpu 0: the sender's own cpu, 50 ns, 110-160.
  // - B pinned to cpu 1 and busy with item 5 (1000 ns, posted at 10 by nobody: no cpu's burst ended then, so no
  //   sender and no cost): item 9 waits behind it and runs 1010-1080, 70 ns, without a wake-up (the data still
  //   moved between cpus).
  // At 2000, when no burst ends, item 7 (50 ns) reaches B: no sender, 50 ns, 2000-2050 (a timer's wake-up).
  using P = std::pair<std::uint64_t, Time>;
  struct Case {
    int b_cpu;
    bool busy;
    std::vector<P> b_done;
    double b_cpu_ns;
    std::uint64_t crossed;
  };
  for (const Case& c : {Case{1, false, {{9, 180}, {7, 2050}}, 120, 1},
                        Case{0, false, {{9, 160}, {7, 2050}}, 100, 0},
                        Case{1, true, {{5, 1010}, {9, 1080}, {7, 2050}}, 1120, 1}}) {
    sim::Simulation s;
    models::HostConfig h = eevdf_host(2, 10'000);
    h.cross_cpu_message = 20;
    models::Cpu cpu(s, h);
    LoopLog alog(s), blog(s);
    models::EventLoop a(s, cpu, alog, {0}), b(s, cpu, blog, {c.b_cpu});
    s.run_until(10);
    a.post(0, 1, 100);
    if (c.busy) b.post(0, 5, 1000);
    s.run_until(110);
    REQUIRE(alog.done == std::vector<P>{{1, 110}});
    b.post(0, 9, 50);
    s.run_until(2000);
    b.post(0, 7, 50);
    s.run();
    CHECK(blog.done == c.b_done);
    CHECK(a.cpu_seconds() == Approx(100e-9).epsilon(1e-12));
    CHECK(b.cpu_seconds() == Approx(c.b_cpu_ns * 1e-9).epsilon(1e-12));
    CHECK(a.cross_cpu_messages() == 0);
    CHECK(b.cross_cpu_messages() == c.crossed);
    // B's wake-up onto idle cpu 1 by cpu 0 is an interprocessor one too, counted though ipi_wakeup costs 0 here.
    CHECK(b.ipi_wakeups() == (c.b_cpu == 1 && !c.busy ? 1U : 0U));
  }
}

TEST_CASE("Cpu: a remote wake-up that preempts costs ipi_wakeup; one that queues behind a busy cpu does not",
          "[world][cpu]") {
  // Two cores, EEVDF with 2000 ns slices. On cpu 1 from t = 0: H (5000 ns) and then B (100 ns), both at v 0 with
  // deadline 2000; H runs first, to its slice's end at 2000 (v 2000, d 4000), then B, eligible, 2000-2100. B goes
  // to sleep at 2100 with v 100 beside H's 2000: lag (2000 + 100) / 2 - 100 = 950 (it ran less than its share).
  // On cpu 0, A runs 400 ns from 2100 to 2500, and its burst's end wakes a process pinned to cpu 1, where H (v 2400
  // by then, alone: V = 2400) runs.
  // B wakes (50 ns) with its lag: v = 2400 - 950 x 2 / 1 = 500 (d 2500), V = 1450, H ahead of it: B is the
  // queue's pick and preempts H, so Linux sends cpu 1 a reschedule interrupt: B does 50 + 30 = 80 ns, 2500-2580,
  // and H its last 2600 ns until 5180.
  // A new process C (no lag) wakes instead: v = V = 2400 (d 4400), H is not ahead of the average, no preemption
  // and no interrupt: C waits until H's slice runs out at 4100 (H resumed at 2100 with d 4000 - v 2000 to go), is
  // then the pick (H's next deadline is 6000), runs 4100-4150, and H does its last 1000 ns until 5150.
  for (const bool preempts : {true, false}) {
    sim::Simulation s;
    models::HostConfig h = eevdf_host(2, 2000);
    h.ipi_wakeup = 30;
    models::Cpu cpu(s, h);
    BurstLog hl(s), bl(s), al(s), cl(s);
    cpu.start(&hl, 1, 5000, {1});
    cpu.start(&bl, 2, 100, {1});
    s.run_until(2100);
    CHECK(bl.done[2] == 2100);
    cpu.start(&al, 3, 400, {0});
    s.run_until(2500);
    REQUIRE(al.done[3] == 2500);
    models::Cpu::Wakeup woke;
    CHECK(cpu.start(preempts ? &bl : &cl, 4, 50, {1}, false, &woke) == 1);
    s.run();
    CHECK_FALSE(woke.idle);
    CHECK(woke.ipi == preempts);
    CHECK(hl.preempted() == (preempts ? 1U : 0U));
    CHECK((preempts ? bl : cl).done[4] == (preempts ? 2580 : 4150));
    CHECK(hl.done[1] == (preempts ? 5180 : 5150));
  }
}

namespace {
// One client, a transaction every 10 ms, pooler query 10 us and result 8 us, Postgres 100 us, nothing else.
WorldConfig isolated_transactions() {
  WorldConfig w = minimal_world(1);
  w.pooler.cpu.query = Distribution::constant(10 * kUs);
  w.pooler.cpu.result = Distribution::constant(8 * kUs);
  w.clients[0].think_time = Distribution::constant(10 * kMs);
  w.clients[0].server_cpu = Distribution::constant(100 * kUs);
  return w;
}
}  // namespace

TEST_CASE("World: isolated transactions pay the pooler's wake-up on each message", "[world][cpu]") {
  // One client, a transaction every 10 ms (think time), Postgres takes 100 us, everything else instant: each
  // query and each result reach an idle pooler loop, so the pooler's CPU per transaction is query + result +
  // 2 x wakeup = 10 + 8 + 2 x 7 = 32 us. With wakeup 0 it is 18 us (the default: nothing changes). (With an
  // instant Postgres the result would arrive at the very instant the loop finished the query, inside its
  // batch: one wake-up per transaction.)
  for (const Time wake : {Time{0}, 7 * kUs}) {
    WorldConfig w = isolated_transactions();
    w.pooler.cpu.wakeup = wake;
    models::World world(w, 5, 0);
    const models::RunResult r = world.run(50 * kMs, 1000 * kMs);
    const auto& p = r.processes.at(0);
    REQUIRE(p.transactions > 90);
    CHECK(p.loop.cpu_seconds / static_cast<double>(p.transactions) == Approx(sim::to_seconds(18 * kUs + 2 * wake)).epsilon(0.02));
  }
}

TEST_CASE("World: isolated transactions pay the idle cpus' wake-ups in the pooler and in Postgres", "[world][cpu]") {
  // As above, without a loop's own wake-up cost but with idle_wakeup 7 us on every host: each query and each
  // result reach a pooler whose cpu has been idle since the last message, so its CPU per transaction is
  // 10 + 8 + 2 x 7 = 32 us, with 2 idle wake-ups; the backend wakes once per transaction on an idle database
  // host: 100 + 7 = 107 us. With idle_wakeup 0 the wake-ups are counted all the same and cost nothing.
  for (const Time idle : {Time{0}, 7 * kUs}) {
    WorldConfig w = isolated_transactions();
    for (models::HostConfig& h : w.hosts) h.idle_wakeup = idle;
    models::World world(w, 5, 0);
    const models::RunResult r = world.run(50 * kMs, 1000 * kMs);
    const auto& p = r.processes.at(0);
    REQUIRE(p.transactions > 90);
    const auto n = static_cast<double>(p.transactions);
    CHECK(p.loop.cpu_seconds / n == Approx(sim::to_seconds(18 * kUs + 2 * idle)).epsilon(0.02));
    CHECK(static_cast<double>(p.loop.idle_wakeups) / n == Approx(2.0).epsilon(0.02));
    CHECK(r.backend_loops.cpu_seconds / n == Approx(sim::to_seconds(100 * kUs + idle)).epsilon(0.02));
    CHECK(static_cast<double>(r.backend_loops.idle_wakeups) / n == Approx(1.0).epsilon(0.02));
    CHECK(r.backend_loops.wakeups == r.backend_loops.idle_wakeups);
  }
}

TEST_CASE("World: send_cpu queues the next query behind the thread's other work; the latency starts at the send",
          "[world][cpu]") {
  // Two clients on one client thread (one core, processor sharing: the loop runs its items one by one), Postgres
  // a pure 100 us delay, every other cost 0 but the thread's: 10 us to read a result (client_cpu) and 5 us to
  // send a query (send_cpu). Both start at once: A sends 0-5, B 5-10; results at 105 and 110; A's result is read
  // 105-115, B's 115-125; A's next send, posted at 115, waits behind B's read: 125-130, B's 130-135, and so on
  // with a cycle of 125 us: 2 / 125 us = 16,000 TPS. pgbench logs from the send's start to the result's read:
  // A 125 -> 240 (115 us), B 130 -> 250 (120 us): mean 117.5 us, 7.5 us under the cycle (the wait between a read
  // and the next send). With the 15 us all on the read (send_cpu 0), the cycle is 115 us and the latency all of
  // it.
  for (const bool split : {true, false}) {
    WorldConfig w = minimal_world(1);
    w.clients[0].count = 2;
    w.clients[0].server_wait = Distribution::constant(100 * kUs);
    w.clients[0].client_cpu = Distribution::constant(split ? 10 * kUs : 15 * kUs);
    if (split) w.clients[0].send_cpu = Distribution::constant(5 * kUs);
    models::World world(w, 5, 0);
    const models::RunResult r = world.run(10 * kMs, 100 * kMs);
    const double cycle_us = split ? 125 : 115;
    CHECK(r.throughput_tps == Approx(2 / (cycle_us * 1e-6)).epsilon(0.005));
    CHECK(r.latency.mean() / 1e3 == Approx(split ? 117.5 : 115.0).epsilon(0.005));
  }
}

TEST_CASE("World: an idle client thread pays its wake-up once per isolated transaction", "[world][cpu]") {
  // One client thinking 10 ms between transactions, client_cpu 5 us, Postgres 100 us: the result always finds
  // its thread idle, so each transaction wakes it once (the query goes out as a zero-cost item, which wakes
  // nothing) and the thread's CPU per transaction is client_cpu + wakeup = 5 + 3 = 8 us; 5 us with wakeup 0.
  for (const Time wake : {Time{0}, 3 * kUs}) {
    WorldConfig w = minimal_world(1);
    w.clients[0].think_time = Distribution::constant(10 * kMs);
    w.clients[0].server_cpu = Distribution::constant(100 * kUs);
    w.clients[0].client_cpu = Distribution::constant(5 * kUs);
    w.clients[0].wakeup = wake;
    models::World world(w, 5, 0);
    const models::RunResult r = world.run(50 * kMs, 1000 * kMs);
    REQUIRE(r.transactions > 90);
    const auto n = static_cast<double>(r.transactions);
    CHECK(r.client_threads.cpu_seconds / n == Approx(sim::to_seconds(5 * kUs + wake)).epsilon(0.02));
    CHECK(static_cast<double>(r.client_threads.wakeups) / n == Approx(1.0).epsilon(0.02));
  }
}
