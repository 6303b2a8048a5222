// Processor sharing with SMT siblings on a host's hardware threads, and the FIFO event loop on top.
#include "models/cpu.hpp"

#include <algorithm>

namespace models {

Cpu::Cpu(sim::Simulation& sim, const HostConfig& host)
    : sim_(sim),
      cores_(host.cores),
      threads_per_core_(host.threads_per_core),
      smt_pair_throughput_(host.smt_pair_throughput),
      threads_(static_cast<std::size_t>(host.cpus())) {
  RPSIM_ASSERT(cores_ >= 1 && threads_per_core_ >= 1, "a host has at least one core and one thread per core");
  for (int i = 0; i < host.cpus(); ++i) all_cpus_.push_back(i);
}

int Cpu::place(const std::vector<int>& allowed) const {
  const std::vector<int>& cands = allowed.empty() ? all_cpus_ : allowed;
  int best = -1;
  long best_score = 0;
  for (int c : cands) {
    RPSIM_ASSERT(c >= 0 && c < cpus(), "pinned to a cpu the host does not have");
    long score;
    if (threads_[c].bursts.empty()) {
      bool core_idle = true;
      for (int t = 0; t < threads_per_core_; ++t) core_idle &= threads_[t * cores_ + core_of(c)].bursts.empty();
      score = core_idle ? 0 : 1;
    } else {
      score = 2 + static_cast<long>(threads_[c].bursts.size());
    }
    if (best < 0 || score < best_score || (score == best_score && c < best)) {
      best = c;
      best_score = score;
    }
  }
  return best;
}

int Cpu::start(BurstOwner* owner, std::uint64_t tag, sim::Time work, const std::vector<int>& allowed) {
  const int cpu = choose(allowed);
  Thread& th = threads_[cpu];
  if (threads_per_core_ == 1 && th.bursts.empty()) {
    // Alone on a core without SMT siblings (a pinned pooler process, the common case): the burst runs at full
    // speed and ends after exactly its work. The state is left as the general path below leaves it (the same
    // remaining work, rate, busy level and completion event), so a burst that joins later shares the thread as
    // usual.
    th.updated = sim_.now();
    th.bursts.push_back(Burst{owner, tag, static_cast<double>(work)});
    th.rate = 1.0;
    th.busy.set(sim_.now(), 1);
    th.next = sim_.schedule_in(finish_delay(static_cast<double>(work)), this, 0, static_cast<std::uint64_t>(cpu));
    return cpu;
  }
  const int core = core_of(cpu);
  for (int t = 0; t < threads_per_core_; ++t) advance(t * cores_ + core);
  threads_[cpu].bursts.push_back(Burst{owner, tag, static_cast<double>(work)});
  refresh_core(core);
  return cpu;
}

void Cpu::advance(int cpu) {
  Thread& th = threads_[cpu];
  const sim::Time now = sim_.now();
  const double done = static_cast<double>(now - th.updated) * th.rate;
  th.updated = now;
  if (done <= 0) return;
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
  th.rate = th.bursts.empty() ? 1.0 : speed / static_cast<double>(th.bursts.size());
  th.busy.set(sim_.now(), th.bursts.empty() ? 0 : 1);
  reschedule(cpu);
}

void Cpu::reschedule(int cpu) {
  Thread& th = threads_[cpu];
  if (th.next.valid()) sim_.cancel(th.next);
  th.next = {};
  if (th.bursts.empty()) return;
  double least = th.bursts.front().remaining;
  for (const Burst& b : th.bursts) least = std::min(least, b.remaining);
  th.next = sim_.schedule_in(finish_delay(std::max(0.0, least / th.rate)), this, 0, static_cast<std::uint64_t>(cpu));
}

void Cpu::handle_event(std::uint32_t, std::uint64_t arg) {
  const int cpu = static_cast<int>(arg);
  Thread& th = threads_[cpu];
  th.next = {};
  if (threads_per_core_ == 1 && th.bursts.size() == 1) {
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
  for (int t = 0; t < threads_per_core_; ++t) advance(t * cores_ + core);
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
  refresh_core(core);
  // The owners may start new bursts (never run events), so finished_ is not touched while this loop reads it.
  for (const Burst& b : finished_) b.owner->burst_done(b.tag);
}

double Cpu::mean_busy_fraction(sim::Time now) const {
  double sum = 0;
  for (const Thread& th : threads_) sum += th.busy.mean(now);
  return threads_.empty() ? 0 : sum / static_cast<double>(threads_.size());
}

void Cpu::reset_stats(sim::Time now) {
  for (Thread& th : threads_) th.busy.reset(now);
}

EventLoop::EventLoop(sim::Simulation& sim, Cpu& cpu, Owner& owner, std::vector<int> affinity)
    : sim_(sim), cpu_(cpu), owner_(owner), affinity_(std::move(affinity)) {}

void EventLoop::post(std::uint32_t kind, std::uint64_t arg, sim::Time cost) {
  if (runs_at_once(cost)) {
    if (owner_.work_start(kind, arg)) owner_.work_done(kind, arg);
    return;
  }
  if (!running_ && queue_.empty() && sim_.now() > idle_since_) {
    wake_owed_ = true;  // paid by the first item that runs, even if the one that woke the loop is dropped
    ++wakeups_;
  }
  queue_.push_back(Item{kind, arg, cost});
  if (!running_ && !blocked_) start_next();
}

void EventLoop::unblock() {
  RPSIM_ASSERT(blocked_, "only a blocked event loop is unblocked");
  blocked_ = false;
  if (!running_) start_next();
}

void EventLoop::start_next() {
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
    if (wake_owed_) item.cost += wakeup_;
    wake_owed_ = false;
    current_ = item;
    busy_.set(sim_.now(), 1);
    last_cpu_ = cpu_.start(this, 0, item.cost, affinity_);
    return;
  }
  running_ = false;
  if (queue_.empty()) wake_owed_ = false;  // every item was dropped: it woke for nothing it models as CPU
  idle_since_ = sim_.now();
  busy_.set(sim_.now(), 0);
}

void EventLoop::burst_done(std::uint64_t) {
  const Item done = current_;
  work_done_ += done.cost;
  running_ = false;
  // The next item starts before the finished one's effects, as a real loop would pick up the next ready event
  // only after this callback returns; either order is the same instant, and this one keeps the CPU busy.
  start_next();
  owner_.work_done(done.kind, done.arg);
}

}  // namespace models
