// CPUs of one host: hardware threads that share their core with SMT siblings, processor sharing (or a run queue
// with slices) among the bursts on a thread, OS placement of unpinned work; and the single-threaded FIFO event
// loop that runs on top of them.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "models/config.hpp"
#include "sim/simulation.hpp"
#include "sim/stats.hpp"

namespace models {

// Receives the end of a CPU burst it started.
class BurstOwner {
 public:
  virtual void burst_done(std::uint64_t tag) = 0;

 protected:
  ~BurstOwner() = default;
  // Times a woken process took the cpu from this one while it ran (EEVDF wake-up preemption), counted by Cpu.
  std::uint64_t preempted_ = 0;
  // The cpu its last burst ran on, kept by Cpu (a balancing pull moves a waiting burst; -1 before the first).
  [[nodiscard]] int burst_cpu() const { return burst_cpu_; }

 private:
  friend class Cpu;
  // Kept by Cpu under EEVDF (HostConfig::Scheduler::kEevdf): the lag the owner keeps while it sleeps, and on which
  // cpu and at which virtual runtime it went to sleep (a negative lag wears off as that queue's average passes it).
  double sleep_lag_ = 0;
  double sleep_v_ = 0;
  int sleep_cpu_ = -1;
  // Kept by Cpu: the cpu of its last burst (where it ended, after a balancing pull), and for the wake-up placement
  // of a run queue (Cpu::place_wakee) Linux's p->recent_used_cpu (the previous cpu at its wake-up before last).
  int burst_cpu_ = -1;
  int recent_used_cpu_ = -1;
  sim::Time ran_at_ = -1;  // when it last left a cpu (Linux's se.exec_start, for task_hot)
};

// Work is measured in nanoseconds of one hardware thread running alone on its core. A thread runs its bursts in
// processor sharing, or from a run queue in time slices (HostConfig::timeslice); its speed is 1 while its SMT
// siblings are idle, and smt_pair_throughput / busy_threads while they are busy (a busy pair with 1.2 does 1.2x
// the work of one thread, each sibling at 0.6). Rates change the moment a sibling gets busy or idle, so a burst's
// finish time is recomputed then (SimGrid's action model).
class Cpu final : public sim::EventHandler {
 public:
  Cpu(sim::Simulation& sim, const HostConfig& host);
  Cpu(const Cpu&) = delete;
  Cpu& operator=(const Cpu&) = delete;

  // Starts a burst on one of `allowed` cpus (all when empty) and returns the cpu chosen. Placement follows what
  // Linux's wake-up path prefers: an idle thread on an idle core, then any idle thread, then the least loaded one;
  // ties go to the lowest cpu id. A burst stays on its cpu until it ends (with a run queue, an idle cpu may take one
  // that is still waiting: pull_waiting, and the balancing tick). `allowed` must outlive the burst.
  // A wake-up (a caller that passes `wakeup`) counts a thread whose burst ended at this very instant as not yet
  // idle: on Linux the waker is still on that cpu when it wakes the other process (a send, then the wait), so
  // select_idle_sibling() takes any cpu that was idle already, and the waker's own only when there is none. With
  // a run queue, a wake-up of an owner that ran before goes where Linux's select_task_rq_fair() would put it
  // (place_wakee: wake_affine, then select_idle_sibling with SIS_UTIL's scan budget).
  // With a run queue and `goes_on` (work the owner's own last burst posted as it ended), an owner whose burst
  // ended at this very instant, inside its slice, goes on at once on the cpu where it ended (a process that had
  // more work never left the cpu). A caller that starts the burst as a wake-up passes `wakeup`: when the burst
  // lands on a thread that was idle before this instant, the burst does the host's idle_wakeup more work and waits
  // its wakeup_latency first (charged to nobody), and wakeup->idle is set. When the waker (the cpu whose burst
  // ended at this very instant) is another cpu and the burst lands on an idle one or preempts (EEVDF), the burst
  // does the host's ipi_wakeup more work and wakeup->ipi is set.
  // `sender`: the cpu that sent the message this burst handles (sender_cpu() when it arrived), or -1; a burst that
  // runs on another cpu than that does the host's cross_cpu_message more work.
  struct Wakeup {
    bool idle = false;
    bool ipi = false;
  };
  int start(BurstOwner* owner, std::uint64_t tag, sim::Time work, const std::vector<int>& allowed,
            bool goes_on = false, Wakeup* wakeup = nullptr, int sender = -1);

  [[nodiscard]] int cpus() const { return static_cast<int>(threads_.size()); }
  [[nodiscard]] int core_of(int cpu) const { return cpu % cores_; }
  // Fraction of time each cpu had at least one burst, since the last reset.
  [[nodiscard]] double busy_fraction(int cpu, sim::Time now) const { return threads_[cpu].busy.mean(now); }
  [[nodiscard]] double mean_busy_fraction(sim::Time now) const;
  [[nodiscard]] int bursts_on(int cpu) const { return static_cast<int>(threads_[cpu].bursts.size()); }
  // Whether start() would put a new burst (not one that goes on) on a cpu that is idle and was already idle before
  // this instant (one whose burst ended just now is handed over, not woken).
  [[nodiscard]] bool places_on_idle(const std::vector<int>& allowed) const {
    return woken(threads_[choose(allowed, /*wakeup=*/true)]);
  }
  [[nodiscard]] sim::Time idle_wakeup() const { return idle_wakeup_; }
  [[nodiscard]] sim::Time wakeup_latency() const { return wakeup_latency_; }
  [[nodiscard]] sim::Time ipi_wakeup() const { return ipi_wakeup_; }
  [[nodiscard]] sim::Time cross_cpu_message() const { return cross_cpu_message_; }
  // The cpu that sent a message arriving now: the one whose running burst ended at this very instant (a send at the
  // end of a burst, over a loopback without delay), or -1 (a timer; another host; or no run queue, which does not
  // track it). The waker of a wake-up happening now, too.
  [[nodiscard]] int sender_cpu() const { return waker_cpu(); }
  // Whether a message from `sender` (sender_cpu() when it arrived) handled on `cpu` crossed cpus: what costs the
  // host's cross_cpu_message.
  [[nodiscard]] static bool crosses(int sender, int cpu) { return sender >= 0 && sender != cpu; }
  void reset_stats(sim::Time now);

  void handle_event(std::uint32_t kind, std::uint64_t arg) override;

 private:
  struct Burst {
    BurstOwner* owner;
    std::uint64_t tag;
    double remaining;                  // ns of solo-thread work still to do
    const std::vector<int>* allowed;  // the owner's affinity (it outlives the burst); empty: any cpu
    double v = 0;                      // EEVDF: the owner's virtual runtime and virtual deadline, ns
    double d = 0;
  };
  struct Thread {
    std::vector<Burst> bursts;  // with a run queue: the running one first, then the waiting ones in order
    double rate = 1.0;          // work per ns for each burst on this thread (the head only, with a run queue)
    sim::Time updated = 0;
    sim::Time slice_end = 0;    // run queue: when the head's slice runs out
    sim::Time idle_since = 0;   // when it last went idle
    double avg_idle = 1e6;      // run queue: Linux's rq->avg_idle, ns (starts at twice the migration cost)
    const BurstOwner* ended_owner = nullptr;  // run queue: whose burst ended last, when, and its slice's end
    sim::Time ended_at = -1;
    sim::Time ended_slice_end = 0;
    double ended_v = 0;  // EEVDF: the ended head's virtual runtime and deadline, for an owner that goes on
    double ended_d = 0;
    double vbase = 0;    // EEVDF: the queue's average virtual runtime when it last emptied (its zero point)
    sim::EventId next;
    sim::TimeWeightedCount busy;
  };

  void advance(int cpu);        // charges the work done since `updated` at the current rate
  void advance_core(int core) {  // advance() for every hardware thread of the core (their speeds are linked)
    for (int t = 0; t < threads_per_core_; ++t) advance(t * cores_ + core);
  }
  void refresh_core(int core);  // advances every thread of a core, recomputes rates, reschedules completions
  void refresh_thread(int cpu, double speed);  // the same for one thread, given its core's speed
  void reschedule(int cpu);
  void finish_bursts(int cpu);  // handle_event's general case: ends the bursts of `cpu` that are done
  // A wait in (fractional) nanoseconds rounded up to whole ones, as std::ceil would, without its call into libm
  // (the wait is non-negative).
  static sim::Time finish_delay(double wait) {
    auto delay = static_cast<sim::Time>(wait);
    if (static_cast<double>(delay) < wait) ++delay;
    return delay;
  }
  [[nodiscard]] int choose(const std::vector<int>& allowed, bool wakeup) const {
    if (allowed.size() == 1) {
      // Pinned to one cpu (a pooler process with its own core): nothing to choose. Inline: once per burst.
      RPSIM_ASSERT(allowed.front() >= 0 && allowed.front() < cpus(), "pinned to a cpu the host does not have");
      return allowed.front();
    }
    return place(allowed, wakeup);
  }
  [[nodiscard]] int place(const std::vector<int>& allowed, bool wakeup) const;  // the scoring, for more than one cpu
  // Run queue: where a woken owner goes (Linux's select_task_rq_fair).
  [[nodiscard]] int place_wakee(BurstOwner* owner, const std::vector<int>& allowed);
  [[nodiscard]] bool run_queue() const { return timeslice_ > 0; }
  // The waker of a wake-up happening now: the cpu whose running burst ended at this very instant (a send at the end
  // of a burst; the model's loopback has no delay), or -1 (a timer; or no run queue, which does not track it).
  [[nodiscard]] int waker_cpu() const {
    return last_ended_cpu_ >= 0 && threads_[last_ended_cpu_].ended_at == sim_.now() ? last_ended_cpu_ : -1;
  }
  [[nodiscard]] bool woken(const Thread& th) const { return th.bursts.empty() && th.idle_since < sim_.now(); }
  // Run queue: an idle thread takes the oldest waiting burst it may run from the longest queue, if that burst is
  // cache-cold or balancing has failed often enough (Linux's can_migrate_task); whether it took one.
  bool pull_waiting(int cpu);
  // Run queue: whether `owner`'s burst on `cpu` ended at this instant inside its slice (so it goes on there).
  [[nodiscard]] bool continues(const BurstOwner* owner, int cpu) const;
  // EEVDF (HostConfig::Scheduler::kEevdf).
  [[nodiscard]] bool eevdf() const { return eevdf_; }
  // `sum` plus the virtual runtimes of the bursts on a thread, added in queue order.
  [[nodiscard]] static double sum_v(const Thread& th, double sum = 0);
  [[nodiscard]] double average_v(int cpu) const;   // the queue's average virtual runtime (vbase when empty)
  void place_woken(int cpu, Burst& b);            // sets v and d of a burst that joins cpu's queue after a sleep
  void record_sleep(int cpu, const Burst& head, double average);
  // Moves the next to run to the front and sets its slice's end; `head_runs`: the head is the running burst, not
  // one that waited.
  void pick_eevdf(int cpu, bool head_runs);
  // A burst just queued behind a running head: whether it preempts it (Linux's wake-up preemption).
  bool preempt_for_woken(int cpu);  // whether the woken burst took the cpu

  sim::Simulation& sim_;
  int cores_;
  int threads_per_core_;
  double smt_pair_throughput_;
  sim::Time timeslice_;
  bool eevdf_;
  sim::Time idle_wakeup_;
  sim::Time wakeup_latency_;
  sim::Time ipi_wakeup_;
  sim::Time cross_cpu_message_;
  std::vector<Thread> threads_;
  std::vector<int> all_cpus_;
  std::vector<Burst> finished_;  // scratch for handle_event, kept to reuse its capacity
  int last_ended_cpu_ = -1;      // run queue: the cpu whose running burst ended last
  // Run queue: the cpus' utilisation as Linux's PELT averages it (half-life 32 ms), for the idle scan's budget.
  [[nodiscard]] double utilisation();
  // The tick's own handler, so that Cpu::handle_event (once per burst end, the hot path) has no kind to test.
  struct Ticker final : sim::EventHandler {
    explicit Ticker(Cpu& c) : cpu(c) {}
    void handle_event(std::uint32_t, std::uint64_t) override { cpu.balance_tick(); }
    Cpu& cpu;
  };
  Ticker ticker_{*this};
  // Run queue, more than one cpu: the scheduler tick at which idle cpus pull from queues (Linux's nohz idle
  // balance), armed while some cpu has a queue. balance_failed_ is the LLC domain's nr_balance_failed.
  void arm_tick();
  void balance_tick();
  bool tick_armed_ = false;
  int balance_failed_ = 0;
  sim::Time util_at_ = 0;
  double util_area_ = 0;  // busy thread-ns since the last reset_stats, at util_at_
  double util_avg_ = 0;
};

// A single-threaded process: one event loop that takes work items in FIFO order and runs each as one CPU burst,
// like PgBouncer's libevent loop or a pgbench thread. Zero-cost items run at once, without queueing: zero means
// "negligible", and the limit of a negligible cost is not to wait behind others. A loop can be blocked, like a
// thread inside a blocking call (pgbench's synchronous connect): from the end of the item under way until
// unblock(), it starts nothing, and every item posted meanwhile, zero-cost ones too, queues in FIFO order.
class EventLoop final : public BurstOwner {
 public:
  class Owner {
   public:
    // Called when an item reaches the front; returning false drops it without spending CPU (e.g. a connection
    // that was reset while it waited in the accept queue).
    virtual bool work_start(std::uint32_t kind, std::uint64_t arg) {
      (void)kind;
      (void)arg;
      return true;
    }
    virtual void work_done(std::uint32_t kind, std::uint64_t arg) = 0;

   protected:
    ~Owner() = default;
  };

  EventLoop(sim::Simulation& sim, Cpu& cpu, Owner& owner, std::vector<int> affinity);

  void post(std::uint32_t kind, std::uint64_t arg, sim::Time cost);
  // Like post(), but ahead of everything queued: the thread's next work, as when a blocking call returns into code
  // that goes on at once (pgbench sends a connection's first query before it turns to any other client).
  void post_first(std::uint32_t kind, std::uint64_t arg, sim::Time cost);
  // Whether post() would run an item of this cost at once, calling work_start and work_done before it returns.
  [[nodiscard]] bool runs_at_once(sim::Time cost) const { return cost <= 0 && !blocked_; }
  void burst_done(std::uint64_t tag) override;
  // May be called from the owner's work_start or work_done; a blocked loop uses no CPU.
  void block() { blocked_ = true; }
  void unblock();
  [[nodiscard]] bool blocked() const { return blocked_; }
  // Whether its thread sleeps: blocked, or idle with nothing queued.
  [[nodiscard]] bool asleep() const { return blocked_ || (!running_ && queue_.empty()); }

  // CPU the process spends waking up from idle (epoll_wait returning, the switch back to it): charged with the
  // first item posted after the loop has gone idle, not with items posted at the very instant it went idle
  // (a real loop is still inside its batch then). Busy loops take many items per wake-up, so CPU per item
  // falls as load rises, as a real pooler's does. Default 0.
  // The host's idle_wakeup (Cpu::idle_wakeup) is charged on top when the woken loop's first burst starts on a
  // cpu that was idle, and that burst starts the host's wakeup_latency late.
  void set_wakeup_cost(sim::Time cost) { wakeup_ = cost; }
  [[nodiscard]] std::uint64_t wakeups() const { return wakeups_; }
  // Of those, the ones whose first burst started on an idle cpu (counted whether or not that costs CPU).
  [[nodiscard]] std::uint64_t idle_wakeups() const { return idle_wakeups_; }
  // Of those, the ones for which a process on another cpu had to interrupt the one this loop landed on (idle, or
  // preempted on arrival): HostConfig::ipi_wakeup, counted whatever it costs (only with a run queue).
  [[nodiscard]] std::uint64_t ipi_wakeups() const { return ipi_wakeups_; }
  // Items it ran as bursts on another cpu than the one that sent them (HostConfig::cross_cpu_message), counted
  // whatever that costs (only with a run queue, which knows the sender).
  [[nodiscard]] std::uint64_t cross_cpu_messages() const { return cross_cpu_messages_; }
  // Times its burst was preempted by a woken one (Cpu::preempt_for_woken; what /proc calls involuntary context
  // switches, as far as the model has them).
  [[nodiscard]] std::uint64_t preemptions() const { return preempted_; }
  // Time its bursts were runnable without running since the last reset, in seconds: the time from each burst's
  // start to its end less its work (waiting in a run queue, sharing a thread or slowed by a busy SMT sibling), less
  // the host's wakeup_latency of each wake-up onto an idle cpu (Linux's schedstat run_delay starts when the task is
  // queued, which on an idle cpu is after that latency). A burst still under way counts as waiting.
  [[nodiscard]] double run_delay_seconds(sim::Time now) const;

  [[nodiscard]] const std::vector<int>& affinity() const { return affinity_; }
  [[nodiscard]] int last_cpu() const { return burst_cpu(); }
  [[nodiscard]] std::size_t queued() const { return queue_.size(); }
  [[nodiscard]] double utilization(sim::Time now) const { return busy_.mean(now); }
  [[nodiscard]] double cpu_seconds() const { return sim::to_seconds(work_done_); }
  void reset_stats(sim::Time now) {
    busy_.reset(now);
    work_done_ = 0;
    wakeups_ = 0;
    idle_wakeups_ = 0;
    ipi_wakeups_ = 0;
    cross_cpu_messages_ = 0;
    preempted_ = 0;
  }

 private:
  struct Item {
    std::uint32_t kind;
    int sender;  // Cpu::sender_cpu() when it was posted (in the padding after kind: the item stays 24 bytes)
    std::uint64_t arg;
    sim::Time cost;
  };
  void start_next(bool continuing = false);  // continuing: right after a burst of its own ended
  template <bool kFirst>
  void enqueue(Item item);

  sim::Simulation& sim_;
  Cpu& cpu_;
  Owner& owner_;
  std::vector<int> affinity_;
  std::deque<Item> queue_;
  bool running_ = false;
  bool blocked_ = false;
  Item current_{};
  sim::Time work_done_ = 0;
  sim::Time wakeup_ = 0;
  sim::Time idle_since_ = 0;
  std::uint64_t wakeups_ = 0;
  std::uint64_t idle_wakeups_ = 0;
  std::uint64_t ipi_wakeups_ = 0;
  std::uint64_t cross_cpu_messages_ = 0;
  bool wake_owed_ = false;
  sim::TimeWeightedCount busy_;
};

}  // namespace models
