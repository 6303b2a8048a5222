// Hardware threads that share their core with SMT siblings, in processor sharing or from a run queue with slices,
// and the FIFO event loop on top.
#include "models/cpu.hpp"

#include <algorithm>
#include <cmath>

namespace models {

namespace {
// Linux's sysctl_sched_migration_cost default, 0.5 ms (kernel/sched/fair.c), in ns: a task that left a cpu less
// than this long ago is cache-hot (task_hot), and load balancing leaves it where it is.
constexpr sim::Time kMigrationCost = 500'000;
// The scheduler tick at Debian's CONFIG_HZ=250: a busy cpu's tick kicks the balancing of the idle ones
// (nohz_balancer_kick, when it has more than one runnable task). The idle cpus' own balance interval (the LLC
// domain's min_interval, its weight in ms) is shorter than a tick on hosts of up to 4 cpus, so every kick balances.
constexpr sim::Time kTick = 4'000'000;
// A cpu about to go idle tries to pull work (sched_balance_newidle) unless it expects to stay idle for less than a
// balancing pass costs (rq->avg_idle < sd->max_newidle_lb_cost, measured by the kernel; a few microseconds on a
// small machine). Since Linux 5.16 this, not the migration cost, is the test.
constexpr double kNewidleCost = 5'000;
// sd->cache_nice_tries of the LLC domain: after more failed periodic balances than this, hot tasks move too.
constexpr int kCacheNiceTries = 1;
// SIS_UTIL: the LLC domain's imbalance_pct (117), which sets how fast the idle scan shrinks with utilisation.
constexpr double kImbalancePct = 1.17;
// PELT's half-life, ns (y^32 = 1/2 over 1,024 us periods; 32 ms is close enough).
constexpr double kPeltHalfLife = 32e6;
}  // namespace

Cpu::Cpu(sim::Simulation& sim, const HostConfig& host)
    : sim_(sim),
      cores_(host.cores),
      threads_per_core_(host.threads_per_core),
      smt_pair_throughput_(host.smt_pair_throughput),
      timeslice_(host.timeslice),
      eevdf_(host.scheduler == HostConfig::Scheduler::kEevdf && host.timeslice > 0),
      idle_wakeup_(host.idle_wakeup),
      wakeup_latency_(host.wakeup_latency),
      ipi_wakeup_(host.ipi_wakeup),
      cross_cpu_message_(host.cross_cpu_message),
      threads_(static_cast<std::size_t>(host.cpus())) {
  RPSIM_ASSERT(cores_ >= 1 && threads_per_core_ >= 1, "a host has at least one core and one thread per core");
  RPSIM_ASSERT(ipi_wakeup_ == 0 || eevdf_, "ipi_wakeup needs the EEVDF run queue");
  RPSIM_ASSERT(cross_cpu_message_ == 0 || run_queue(), "cross_cpu_message needs a run queue");
  for (int i = 0; i < host.cpus(); ++i) all_cpus_.push_back(i);
}

void Cpu::arm_tick() {
  if (tick_armed_ || cpus() < 2) return;
  tick_armed_ = true;
  sim_.schedule_at((sim_.now() / kTick + 1) * kTick, &ticker_, 0, 0);  // ticks fall on multiples of 4 ms
}

void Cpu::balance_tick() {
  tick_armed_ = false;
  bool queued = false;
  for (const Thread& th : threads_) queued |= th.bursts.size() > 1;
  if (!queued) return;  // the next queue that forms arms the tick again
  for (int c = 0; c < cpus(); ++c) {
    if (!threads_[c].bursts.empty()) continue;
    if (pull_waiting(c)) {
      balance_failed_ = 0;
    } else {
      ++balance_failed_;
    }
  }
  arm_tick();
}

int Cpu::place(const std::vector<int>& allowed, bool wakeup) const {
  const std::vector<int>& cands = allowed.empty() ? all_cpus_ : allowed;
  int best = -1;
  long best_score = 0;
  for (int c : cands) {
    RPSIM_ASSERT(c >= 0 && c < cpus(), "pinned to a cpu the host does not have");
    long score;
    if (threads_[c].bursts.empty() && wakeup && !woken(threads_[c])) {
      score = 2;  // the waker's cpu, which it leaves only after the wake-up
    } else if (threads_[c].bursts.empty()) {
      bool core_idle = true;
      for (int t = 0; t < threads_per_core_; ++t) core_idle &= threads_[t * cores_ + core_of(c)].bursts.empty();
      score = core_idle ? 0 : 1;
    } else {
      score = 3 + static_cast<long>(threads_[c].bursts.size());
    }
    if (best < 0 || score < best_score || (score == best_score && c < best)) {
      best = c;
      best_score = score;
    }
  }
  return best;
}

int Cpu::start(BurstOwner* owner, std::uint64_t tag, sim::Time work, const std::vector<int>& allowed,
               bool goes_on, Wakeup* wakeup, int sender) {
  // burst_cpu_ is where its last burst ended, which a balancing pull may have moved it to after it started.
  if (run_queue() && goes_on && owner->burst_cpu_ >= 0 && continues(owner, owner->burst_cpu_)) {
    const int prev_cpu = owner->burst_cpu_;
    if (crosses(sender, prev_cpu)) work += cross_cpu_message_;
    // The process had more to do when its burst ended: it never left the cpu, so it goes on in the same slice,
    // ahead of the bursts that were waiting there.
    Thread& th = threads_[prev_cpu];
    advance_core(core_of(prev_cpu));
    th.bursts.insert(th.bursts.begin(),
                     Burst{owner, tag, static_cast<double>(work), &allowed, th.ended_v, th.ended_d});
    th.slice_end = th.ended_slice_end;
    if (th.bursts.size() > 1) arm_tick();
    refresh_core(core_of(prev_cpu));
    return prev_cpu;
  }
  const int cpu = run_queue() && wakeup && owner->burst_cpu_ >= 0 && allowed.size() != 1
                      ? place_wakee(owner, allowed) : choose(allowed, wakeup != nullptr);
  owner->burst_cpu_ = cpu;
  Thread& th = threads_[cpu];
  if (crosses(sender, cpu)) work += cross_cpu_message_;
  // A wake-up from another cpu interrupts this one when it is idle or (below) when the woken burst preempts.
  const int waker = wakeup ? waker_cpu() : -1;
  const bool remote = waker >= 0 && waker != cpu;
  if (wakeup && woken(th)) {
    work += idle_wakeup_ + wakeup_latency_;
    wakeup->idle = true;
    if (remote) {
      work += ipi_wakeup_;
      wakeup->ipi = true;
    }
  }
  if (threads_per_core_ == 1 && th.bursts.empty() && !run_queue()) {
    // Alone on a core without SMT siblings (a pinned pooler process, the common case): the burst runs at full
    // speed and ends after exactly its work. The state is left as the general path below leaves it (the same
    // remaining work, rate, busy level and completion event), so a burst that joins later shares the thread as
    // usual.
    th.updated = sim_.now();
    th.bursts.push_back(Burst{owner, tag, static_cast<double>(work), &allowed});
    th.rate = 1.0;
    th.busy.set(sim_.now(), 1);
    th.next = sim_.schedule_in(finish_delay(static_cast<double>(work)), this, 0, static_cast<std::uint64_t>(cpu));
    return cpu;
  }
  const int core = core_of(cpu);
  advance_core(core);
  if (run_queue() && th.bursts.empty()) {
    // Linux's rq->avg_idle: a running average (weight 1/8) of how long the cpu stays idle, updated when a wake-up
    // ends an idle period, capped at twice the migration cost.
    const double idle = static_cast<double>(sim_.now() - th.idle_since);
    th.avg_idle = std::min(th.avg_idle + (idle - th.avg_idle) / 8, 2.0 * kMigrationCost);
  }
  Burst b{owner, tag, static_cast<double>(work), &allowed};
  if (eevdf()) place_woken(cpu, b);
  th.bursts.push_back(b);
  if (eevdf() && th.bursts.size() > 1 && preempt_for_woken(cpu) && remote) {
    th.bursts.front().remaining += static_cast<double>(ipi_wakeup_);  // the woken burst, now the head
    wakeup->ipi = true;
  }
  if (run_queue() && th.bursts.size() > 1) arm_tick();
  // A placed burst's deadline is a slice past its virtual runtime, so under EEVDF too its slice ends then.
  if (th.bursts.size() == 1) th.slice_end = sim_.now() + timeslice_;
  refresh_core(core);
  return cpu;
}

int Cpu::place_wakee(BurstOwner* owner, const std::vector<int>& allowed) {
  // Linux's select_task_rq_fair() for a wake-up within one last-level cache (every cpu of a host shares one here).
  // The kernel weighs cpus by PELT load averages; the model has no load averages and counts runnable bursts
  // instead, which is what those averages follow when every task's weight is the default.
  const auto may = [&](int c) {
    return allowed.empty() || std::find(allowed.begin(), allowed.end(), c) != allowed.end();
  };
  const auto idle = [&](int c) { return woken(threads_[c]); };
  const int prev = owner->burst_cpu_;
  if (!may(prev)) return place(allowed, /*wakeup=*/true);
  // wake_affine(): this_cpu is the waker's, the cpu whose running burst ended at this instant (a send at the end
  // of a burst; the model's loopback has no delay). A wake-up with no waker (a timer) stays with prev. Sockets
  // and epoll wake synchronously (WF_SYNC): the waker is about to sleep, so it does not count against its cpu.
  int target = prev;
  const int waker = waker_cpu();
  if (waker >= 0 && waker != prev && may(waker)) {
    const Thread& w = threads_[waker];
    const bool waker_on = !w.bursts.empty() && w.bursts.front().owner == w.ended_owner;
    const long nr_this = static_cast<long>(w.bursts.size()) + (waker_on ? 0 : 1);  // with the waker
    if (nr_this == 1) {
      target = waker;  // wake_affine_idle(): a sync wake-up by the only task on its cpu
    } else if (!idle(prev)) {
      // wake_affine_weight(): this cpu's load less the waker's plus the wakee's, against prev's less the wakee's
      // (it is not on it), prev favoured by half the imbalance_pct (100 vs 108) and by one for a sync wake-up.
      const long this_load = nr_this;  // nr_this - 1 (the waker's) + 1 (the wakee's)
      const long prev_load = static_cast<long>(threads_[prev].bursts.size());
      if (this_load * 100 < prev_load * 108 + 1) target = waker;
    }
  }
  // select_idle_sibling(): the target if idle, then prev, then the cpu it was woken on before (recent_used_cpu),
  // then a scan of the others from target + 1 whose length SIS_UTIL cuts as the cpus get busy (none at 85 %).
  const int recent = owner->recent_used_cpu_;
  owner->recent_used_cpu_ = prev;
  if (idle(target)) return target;
  if (prev != target && idle(prev)) return prev;
  if (recent >= 0 && recent != prev && recent != target && may(recent) && idle(recent)) return recent;
  const int n = cpus();
  const double x = std::min(1.0, utilisation() * kImbalancePct);
  int budget = static_cast<int>(static_cast<double>(n) * (1 - x * x));
  for (int i = 1; i < n && budget > 0; ++i) {
    const int c = (target + i) % n;
    if (!may(c)) continue;
    --budget;
    if (idle(c)) return c;
  }
  return target;
}

void Cpu::advance(int cpu) {
  Thread& th = threads_[cpu];
  const sim::Time now = sim_.now();
  const double elapsed = static_cast<double>(now - th.updated);
  const double done = elapsed * th.rate;
  th.updated = now;
  if (done <= 0) return;
  if (run_queue()) {
    if (!th.bursts.empty()) {
      th.bursts.front().remaining -= done;
      if (eevdf()) th.bursts.front().v += elapsed;  // virtual runtime is time on the cpu, whatever its speed
    }
    return;
  }
  for (Burst& b : th.bursts) b.remaining -= done;
}

void Cpu::refresh_core(int core) {
  if (threads_per_core_ == 1) {
    refresh_thread(core, 1.0);  // no SMT sibling: the thread always runs at full speed
    return;
  }
  int busy = 0;
  for (int t = 0; t < threads_per_core_; ++t) busy += threads_[t * cores_ + core].bursts.empty() ? 0 : 1;
  const double speed = busy <= 1 ? 1.0 : smt_pair_throughput_ / busy;
  for (int t = 0; t < threads_per_core_; ++t) refresh_thread(t * cores_ + core, speed);
}

void Cpu::refresh_thread(int cpu, double speed) {
  Thread& th = threads_[cpu];
  advance(cpu);  // a no-op when already advanced at this instant
  th.rate = th.bursts.empty() || run_queue() ? speed : speed / static_cast<double>(th.bursts.size());
  th.busy.set(sim_.now(), th.bursts.empty() ? 0 : 1);
  reschedule(cpu);
}

void Cpu::reschedule(int cpu) {
  Thread& th = threads_[cpu];
  if (th.next.valid()) sim_.cancel(th.next);
  th.next = {};
  if (th.bursts.empty()) return;
  double least = th.bursts.front().remaining;
  if (!run_queue()) {
    for (const Burst& b : th.bursts) least = std::min(least, b.remaining);
  }
  sim::Time delay = finish_delay(std::max(0.0, least / th.rate));
  // With a run queue, the head's slice may run out first (only when others wait: alone, it keeps the cpu).
  if (run_queue() && th.bursts.size() > 1) {
    delay = std::min(delay, std::max<sim::Time>(0, th.slice_end - sim_.now()));
  }
  th.next = sim_.schedule_in(delay, this, 0, static_cast<std::uint64_t>(cpu));
}

void Cpu::handle_event(std::uint32_t, std::uint64_t arg) {
  const int cpu = static_cast<int>(arg);
  Thread& th = threads_[cpu];
  th.next = {};
  if (threads_per_core_ == 1 && th.bursts.size() == 1 && !run_queue()) {
    // One burst on a core without siblings: the same arithmetic as advance() and the partition below, without
    // their loops; the burst is nearly always done (the general path handles one that is not).
    Burst& b = th.bursts.front();
    const sim::Time now = sim_.now();
    const double done = static_cast<double>(now - th.updated) * th.rate;
    th.updated = now;
    if (done > 0) b.remaining -= done;
    if (b.remaining <= 0.5) {
      const Burst finished = b;
      th.bursts.clear();
      th.rate = 1.0;
      th.busy.set(now, 0);
      th.idle_since = now;
      finished.owner->burst_done(finished.tag);
      return;
    }
  }
  // Out of line, so that the common case above needs no saved registers.
  finish_bursts(cpu);
}

void Cpu::finish_bursts(int cpu) {
  const int core = core_of(cpu);
  Thread& th = threads_[cpu];
  advance_core(core);
  // Half a nanosecond of slack absorbs the rounding of finish times up to whole nanoseconds. Both groups keep
  // their order (a stable partition, without the temporary buffer std::stable_partition allocates per call).
  finished_.clear();
  std::size_t kept = 0;
  for (const Burst& b : th.bursts) {
    if (b.remaining > 0.5) {
      th.bursts[kept++] = b;
    } else {
      finished_.push_back(b);
    }
  }
  th.bursts.resize(kept);
  if (!run_queue()) {
    if (kept == 0) th.idle_since = sim_.now();
    refresh_core(core);
    // The owners may start new bursts (never run events), so finished_ is not touched while this loop reads it.
    for (const Burst& b : finished_) b.owner->burst_done(b.tag);
    return;
  }
  const sim::Time now = sim_.now();
  if (!finished_.empty()) {
    // The head ended: the next one gets a fresh slice, unless the owner goes on at once (start(), `goes_on`).
    const Burst& head = finished_.front();
    head.owner->ran_at_ = now;
    last_ended_cpu_ = cpu;
    th.ended_owner = head.owner;
    th.ended_at = now;
    th.ended_slice_end = th.slice_end;
    th.slice_end = now + timeslice_;
    if (eevdf()) {
      // The queue's average as it was with the head still in it (only the head runs, so the rest kept theirs).
      const double average = sum_v(th, head.v) / static_cast<double>(th.bursts.size() + 1);
      th.ended_v = head.v;
      th.ended_d = head.d;
      record_sleep(cpu, head, average);
      if (th.bursts.empty()) {
        th.vbase = average;
      } else {
        pick_eevdf(cpu, /*head_runs=*/false);
      }
    }
  } else if (now >= th.slice_end) {
    if (eevdf()) {
      // The head used its slice: a new deadline, and the queue's choice again (EEVDF's update_deadline).
      Burst& head = th.bursts.front();
      head.d = head.v + static_cast<double>(timeslice_);
      pick_eevdf(cpu, /*head_runs=*/true);
    } else {
      // The head's slice ran out: it goes behind the others.
      if (th.bursts.size() > 1) std::rotate(th.bursts.begin(), th.bursts.begin() + 1, th.bursts.end());
      th.slice_end = now + timeslice_;
    }
  }
  refresh_core(core);
  for (const Burst& b : finished_) b.owner->burst_done(b.tag);
  // Only a thread that is still idle once the owner had its chance to go on looks for waiting work elsewhere,
  // and only if its idle periods have been long enough (sched_balance_newidle gives up when rq->avg_idle is below
  // what a balancing pass costs, kNewidleCost: pulling would cost more than the idle time it fills). A busy
  // machine's very short idle gaps are therefore left idle while another cpu has a queue, as on Linux.
  if (threads_[cpu].bursts.empty()) {
    threads_[cpu].idle_since = now;
    if (threads_[cpu].avg_idle >= kNewidleCost && pull_waiting(cpu)) balance_failed_ = 0;
  }
}

bool Cpu::continues(const BurstOwner* owner, int cpu) const {
  const Thread& th = threads_[cpu];
  return th.ended_owner == owner && th.ended_at == sim_.now() && th.ended_slice_end > sim_.now();
}

bool Cpu::pull_waiting(int cpu) {
  const sim::Time now = sim_.now();
  const auto movable = [&](const Burst& b) {
    const sim::Time ran = b.owner->ran_at_;
    const bool hot = ran >= 0 && now - ran < kMigrationCost;
    return !hot || balance_failed_ > kCacheNiceTries;
  };
  int from = -1;
  std::size_t index = 0;
  for (int c = 0; c < cpus(); ++c) {
    const std::vector<Burst>& q = threads_[c].bursts;
    if (c == cpu || q.size() < 2 || (from >= 0 && q.size() <= threads_[from].bursts.size())) continue;
    for (std::size_t i = 1; i < q.size(); ++i) {
      const std::vector<int>& allowed = *q[i].allowed;
      if (!movable(q[i])) continue;
      if (allowed.empty() || std::find(allowed.begin(), allowed.end(), cpu) != allowed.end()) {
        from = c;
        index = i;
        break;
      }
    }
  }
  if (from < 0) return false;
  std::vector<Burst>& q = threads_[from].bursts;
  Burst b = q[index];
  b.owner->burst_cpu_ = cpu;
  if (eevdf()) {
    // It keeps its lag and the rest of its slice (a migrating task keeps its lag relative to its queue).
    const double lag = average_v(from) - b.v;
    const double rest = b.d - b.v;
    b.v = average_v(cpu) - lag;  // the thread is empty: there is no average to shift
    b.d = b.v + rest;
  }
  // The waiting burst did no work, but the idle thread's clock must come up to now first: a balancing tick pulls
  // onto a thread that has been idle for a while, and its next advance() would count all that time as work.
  advance_core(core_of(cpu));
  threads_[cpu].bursts.push_back(b);
  q.erase(q.begin() + static_cast<std::ptrdiff_t>(index));
  if (eevdf()) {
    pick_eevdf(cpu, /*head_runs=*/false);
  } else {
    threads_[cpu].slice_end = sim_.now() + timeslice_;
  }
  refresh_core(core_of(cpu));
  if (core_of(from) != core_of(cpu)) refresh_core(core_of(from));  // its count changed; its head did not
  return true;
}

double Cpu::sum_v(const Thread& th, double sum) {
  for (const Burst& b : th.bursts) sum += b.v;
  return sum;
}

double Cpu::average_v(int cpu) const {
  const Thread& th = threads_[cpu];
  return th.bursts.empty() ? th.vbase : sum_v(th) / static_cast<double>(th.bursts.size());
}

void Cpu::record_sleep(int cpu, const Burst& head, double average) {
  // place_entity's limit: a lag of at most two slices either way. (The kernel takes the larger of that and one
  // tick, 4 ms at HZ=250; bursts of microseconds build lags far below either.)
  const double limit = 2.0 * static_cast<double>(timeslice_);
  BurstOwner& o = *head.owner;
  o.sleep_lag_ = std::clamp(average - head.v, -limit, limit);
  o.sleep_v_ = head.v;
  o.sleep_cpu_ = cpu;
}

void Cpu::place_woken(int cpu, Burst& b) {
  const Thread& th = threads_[cpu];
  const double average = average_v(cpu);
  const BurstOwner& o = *b.owner;
  double lag = o.sleep_lag_;  // 0 for an owner that never ran
  if (lag < 0 && o.sleep_cpu_ == cpu) {
    // Delayed dequeue: a sleeper that ran ahead stays on its queue until the average catches up with it, so what
    // is left of its negative lag is how far it is still ahead.
    lag = std::min(0.0, std::max(lag, average - o.sleep_v_));
  }
  // place_entity: joining moves the average by lag / (n + 1), so the lag is scaled by (n + 1) / n to keep it.
  const auto n = static_cast<double>(th.bursts.size());
  if (n > 0) lag *= (n + 1) / n;
  b.v = average - lag;
  b.d = b.v + static_cast<double>(timeslice_);
}

void Cpu::pick_eevdf(int cpu, bool head_runs) {
  Thread& th = threads_[cpu];
  const double average = average_v(cpu);
  // Eligible: not ahead of the average (lag >= 0). Of those, the earliest deadline; on a tie a waiting burst
  // before the running head, and earlier waiting ones first (the kernel keeps the running task only when it is
  // strictly earlier). At least one burst is eligible, as no set of numbers lies wholly above its mean; the
  // tolerance absorbs rounding.
  const std::size_t n = th.bursts.size();
  std::size_t best = n;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = head_runs ? (i + 1) % n : i;  // a running head last
    const Burst& b = th.bursts[k];
    if (b.v > average + 1e-6) continue;
    if (best == n || b.d < th.bursts[best].d) best = k;
  }
  RPSIM_ASSERT(best < n, "EEVDF finds an eligible burst");
  if (best != 0) std::rotate(th.bursts.begin(), th.bursts.begin() + static_cast<std::ptrdiff_t>(best),
                             th.bursts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  Burst& head = th.bursts.front();
  if (head.d - head.v < 1) head.d = head.v + static_cast<double>(timeslice_);
  th.slice_end = sim_.now() + finish_delay(head.d - head.v);
}

bool Cpu::preempt_for_woken(int cpu) {
  // check_preempt_wakeup_fair: the woken burst (the last) takes the cpu at once when it is what the queue would
  // pick now. RUN_TO_PARITY keeps the running head while it is still eligible; once it has run ahead of the
  // average, the wakee preempts it if the wakee is eligible and no other waiting burst would come first (the
  // earliest deadline, an earlier waiting one on a tie). The preempted head keeps its v and d, so the rest of its
  // slice is there when it is picked again.
  Thread& th = threads_[cpu];
  const double average = average_v(cpu);
  const std::size_t woken = th.bursts.size() - 1;
  const Burst& w = th.bursts[woken];
  if (th.bursts.front().v <= average + 1e-6 || w.v > average + 1e-6) return false;
  for (std::size_t i = 1; i < woken; ++i) {
    if (th.bursts[i].v <= average + 1e-6 && th.bursts[i].d <= w.d) return false;
  }
  std::rotate(th.bursts.begin(), th.bursts.begin() + static_cast<std::ptrdiff_t>(woken), th.bursts.end());
  th.bursts[1].owner->ran_at_ = sim_.now();
  ++th.bursts[1].owner->preempted_;
  const Burst& head = th.bursts.front();
  th.slice_end = sim_.now() + finish_delay(head.d - head.v);
  return true;
}

double Cpu::mean_busy_fraction(sim::Time now) const {
  double sum = 0;
  for (const Thread& th : threads_) sum += th.busy.mean(now);
  return threads_.empty() ? 0 : sum / static_cast<double>(threads_.size());
}

void Cpu::reset_stats(sim::Time now) {
  (void)utilisation();  // brought up to now from the busy levels, before the reset discards them
  for (Thread& th : threads_) th.busy.reset(now);
  util_at_ = now;
  util_area_ = 0;
}

double Cpu::utilisation() {
  const sim::Time now = sim_.now();
  if (now <= util_at_) return util_avg_;
  double area = 0;
  for (const Thread& th : threads_) area += static_cast<double>(th.busy.integral(now));  // busy ns since the reset
  const double elapsed = static_cast<double>(now - util_at_);
  const double window = (area - util_area_) / (elapsed * static_cast<double>(threads_.size()));
  const double keep = std::exp2(-elapsed / kPeltHalfLife);
  util_avg_ = util_avg_ * keep + window * (1 - keep);
  util_at_ = now;
  util_area_ = area;
  return util_avg_;
}

EventLoop::EventLoop(sim::Simulation& sim, Cpu& cpu, Owner& owner, std::vector<int> affinity)
    : sim_(sim), cpu_(cpu), owner_(owner), affinity_(std::move(affinity)) {}

template <bool kFirst>
void EventLoop::enqueue(Item item) {
  if (runs_at_once(item.cost)) {
    if (owner_.work_start(item.kind, item.arg)) owner_.work_done(item.kind, item.arg);
    return;
  }
  if (!running_ && queue_.empty() && sim_.now() > idle_since_) {
    wake_owed_ = true;  // paid by the first item that runs, even if the one that woke the loop is dropped
    ++wakeups_;
  }
  if constexpr (kFirst) {
    queue_.push_front(item);
  } else {
    queue_.push_back(item);
  }
  // Work posted at the very instant the loop's last burst ended comes from that burst's own effects: the process
  // never left the cpu, and goes on there (in its slice, with a run queue) as it would after a queued item.
  if (!running_ && !blocked_) start_next(/*continuing=*/sim_.now() == idle_since_);
}

void EventLoop::post(std::uint32_t kind, std::uint64_t arg, sim::Time cost) {
  enqueue<false>(Item{kind, cpu_.sender_cpu(), arg, cost});
}

void EventLoop::post_first(std::uint32_t kind, std::uint64_t arg, sim::Time cost) {
  enqueue<true>(Item{kind, cpu_.sender_cpu(), arg, cost});
}

void EventLoop::unblock() {
  RPSIM_ASSERT(blocked_, "only a blocked event loop is unblocked");
  blocked_ = false;
  if (!running_) start_next();
}

void EventLoop::start_next(bool continuing) {
  while (!blocked_ && !queue_.empty()) {
    Item item = queue_.front();
    queue_.pop_front();
    if (!owner_.work_start(item.kind, item.arg)) continue;
    if (item.cost <= 0) {
      // A zero-cost item that queued while the loop was blocked. Marked running so that what its work_done
      // posts queues behind the rest instead of starting here (this loop takes it next).
      running_ = true;
      owner_.work_done(item.kind, item.arg);
      running_ = false;
      continue;
    }
    running_ = true;
    Cpu::Wakeup woke;
    if (wake_owed_) item.cost += wakeup_;
    busy_.set(sim_.now(), 1);
    const int cpu = cpu_.start(this, 0, item.cost, affinity_, continuing, wake_owed_ ? &woke : nullptr, item.sender);
    if (Cpu::crosses(item.sender, cpu)) {
      item.cost += cpu_.cross_cpu_message();
      ++cross_cpu_messages_;
    }
    if (woke.idle) {
      item.cost += cpu_.idle_wakeup();  // the loop's CPU; the latency is nobody's
      ++idle_wakeups_;
    }
    if (woke.ipi) {
      item.cost += cpu_.ipi_wakeup();
      ++ipi_wakeups_;
    }
    wake_owed_ = false;
    current_ = item;
    return;
  }
  running_ = false;
  if (queue_.empty()) wake_owed_ = false;  // every item was dropped: it woke for nothing it models as CPU
  idle_since_ = sim_.now();
  busy_.set(sim_.now(), 0);
}

double EventLoop::run_delay_seconds(sim::Time now) const {
  const double busy = static_cast<double>(busy_.integral(now));  // ns with a burst started and not yet ended
  const double waited = busy - static_cast<double>(work_done_) -
                        static_cast<double>(idle_wakeups_) * static_cast<double>(cpu_.wakeup_latency());
  return std::max(0.0, waited) / 1e9;
}

void EventLoop::burst_done(std::uint64_t) {
  const Item done = current_;
  work_done_ += done.cost;
  running_ = false;
  // The next item starts before the finished one's effects, as a real loop would pick up the next ready event
  // only after this callback returns; either order is the same instant, and this one keeps the CPU busy.
  start_next(/*continuing=*/true);
  owner_.work_done(done.kind, done.arg);
}

}  // namespace models
