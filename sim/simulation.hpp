// The simulation kernel: simulated time, a (time, sequence)-ordered event queue with cancellable events, and run loops.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "sim/assert.hpp"
#include "sim/time.hpp"

namespace sim {

// A component that receives events. An event carries a small kind code and a 64-bit argument, so scheduling one
// allocates nothing: no std::function or shared_ptr per event on the hot path.
class EventHandler {
 public:
  virtual void handle_event(std::uint32_t kind, std::uint64_t arg) = 0;

 protected:
  ~EventHandler() = default;
};

// A handle to a scheduled event: the slot it occupies and the sequence number it was given. The sequence number
// makes a stale handle harmless: once the event ran or was cancelled, its slot's sequence no longer matches.
// The sequence number is kept as two 32-bit halves so that a handle is 12 bytes with 4-byte alignment, not 16: models
// keep one or two per client, and a million clients is a case this engine is built for.
struct EventId {
  EventId() = default;
  EventId(std::uint32_t slot_index, std::uint64_t sequence)
      : slot(slot_index), seq_low(static_cast<std::uint32_t>(sequence)), seq_high(static_cast<std::uint32_t>(sequence >> 32)) {}
  std::uint32_t slot = 0;
  std::uint32_t seq_low = 0;
  std::uint32_t seq_high = 0;
  [[nodiscard]] std::uint64_t seq() const { return (static_cast<std::uint64_t>(seq_high) << 32) | seq_low; }
  [[nodiscard]] bool valid() const { return seq() != 0; }
};
static_assert(sizeof(EventId) == 12);

class Simulation {
 public:
  Simulation() = default;
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  [[nodiscard]] Time now() const { return now_; }

  // Inline: the models schedule several events per transaction, and a call across translation units cost more
  // than these few instructions.
  EventId schedule_at(Time at, EventHandler* handler, std::uint32_t kind, std::uint64_t arg = 0) {
    RPSIM_ASSERT(at >= now_, "events cannot be scheduled in the past");
    RPSIM_ASSERT(handler != nullptr, "an event needs a handler");
    const std::uint32_t slot = allocate_slot();
    const std::uint64_t seq = next_seq_++;
    slots_[slot] = Slot{handler, arg, seq};
    if (at == now_) {
      now_queue_.push_back(NowEntry{handler, arg, seq, slot, kind});
    } else {
      heap_push(Entry{at, seq, slot, kind});
    }
    return EventId{slot, seq};
  }
  EventId schedule_in(Time delay, EventHandler* handler, std::uint32_t kind, std::uint64_t arg = 0) {
    RPSIM_ASSERT(delay >= 0, "events cannot be scheduled in the past");
    return schedule_at(now_ + delay, handler, kind, arg);
  }
  // An event nobody will cancel (a message sent): no handle, and when it is due at the current instant (over a
  // zero-latency link) no slot and no sequence number either, as the now-queue's order is its own.
  // Inline only while it is a store into the now-queue's spare capacity: a caller that does nothing else then
  // saves no registers.
  void schedule_detached_in(Time delay, EventHandler* handler, std::uint32_t kind, std::uint64_t arg = 0) {
    if (delay == 0 && now_queue_.size() != now_queue_.capacity()) [[likely]] {
      RPSIM_ASSERT(handler != nullptr, "an event needs a handler");
      now_queue_.push_back(NowEntry{handler, arg, 0, kNoSlot, kind});
    } else {
      schedule_detached_slow(delay, handler, kind, arg);
    }
  }
  // For rare, irregular events (a scripted restart, a test's probe). Not for the hot path.
  EventId call_at(Time at, std::function<void()> fn);

  // Cancels a pending event. Returns false when it already ran or was cancelled. The queue entry is dropped
  // lazily when it reaches the front, which keeps cancel O(1) amortised; when cancelled entries make up a
  // quarter of the heap (long timeouts that are nearly always cancelled), the heap is rebuilt without them, so
  // it stays within 4/3 of what is really pending.
  bool cancel(EventId id) {
    // Inline for the common case of a handle that is already stale (a timer that ran, kept by a model that
    // cancels it just in case); the rest is out of line.
    if (!pending(id)) return false;
    cancel_pending(id);
    return true;
  }
  [[nodiscard]] bool pending(EventId id) const {
    return id.valid() && id.slot < slots_.size() && slots_[id.slot].seq == id.seq();
  }

  // Runs the earliest event. Returns false when there is none.
  bool step();
  // Runs events with time <= until, then sets now() to until (if it is later). Stops early if stop() is called.
  void run_until(Time until);
  // Runs until the queue is empty or stop() is called.
  void run() { run_until(kTimeMax); }
  void stop() { stopped_ = true; }

  [[nodiscard]] std::uint64_t events_executed() const { return executed_; }
  [[nodiscard]] std::size_t queued() const { return heap_.size() + (now_queue_.size() - now_head_); }

 private:
  struct Entry {
    Time time;
    std::uint64_t seq;  // global insertion order: ties in time run first-scheduled-first
    std::uint32_t slot;
    std::uint32_t kind;  // here rather than in the slot: it fills the entry's padding and shrinks the slot
  };
  // An event due at the current instant. It carries its handler and argument, so one that cannot be cancelled
  // needs no slot (slot == kNoSlot); one that can has a slot too, and is live while the slot's sequence is seq.
  struct NowEntry {
    EventHandler* handler;
    std::uint64_t arg;
    std::uint64_t seq;
    std::uint32_t slot;
    std::uint32_t kind;
  };
  // 24 bytes per pending event (plus its 24-byte entry): the slot table is the engine's memory at a million
  // pending timers.
  struct Slot {
    EventHandler* handler;
    std::uint64_t arg;  // while the slot is free: the index of the next free slot (an intrusive free list)
    std::uint64_t seq;  // 0 when free
  };
  static constexpr std::uint32_t kNoSlot = 0xffffffffu;
  class CallHandler final : public EventHandler {
   public:
    void handle_event(std::uint32_t kind, std::uint64_t arg) override;
    std::vector<std::function<void()>> calls_;
    std::vector<std::uint32_t> free_;
  };

  static bool earlier(const Entry& a, const Entry& b) {
    return a.time < b.time || (a.time == b.time && a.seq < b.seq);
  }
  // The index of the earlier of two heap entries. Equal times are rare, so only they take a branch; the usual
  // case is a select the compiler can make without one (which child wins is a coin toss to a branch predictor).
  static std::size_t earlier_of(const Entry* h, std::size_t x, std::size_t y) {
    if (h[x].time != h[y].time) [[likely]]
      return h[y].time < h[x].time ? y : x;
    return h[y].seq < h[x].seq ? y : x;
  }
  void cancel_pending(EventId id);
  std::uint32_t new_slot();  // allocate_slot() when none is free: the table grows by one
  void schedule_detached_slow(Time delay, EventHandler* handler, std::uint32_t kind, std::uint64_t arg);
  void heap_push(Entry e);
  void heap_pop_front();
  void sift_down(std::size_t hole, Entry e);  // places e at or below `hole`
  void drop_cancelled();                      // rebuilds the heap without its cancelled entries
  // Runs the earliest live event if it is due by `until`, dropping cancelled entries on the way; false when
  // there is none.
  bool run_next(Time until);
  std::uint32_t allocate_slot() {
    if (free_head_ == kNoSlot) [[unlikely]]
      return new_slot();
    const std::uint32_t s = free_head_;
    free_head_ = static_cast<std::uint32_t>(slots_[s].arg);
    return s;
  }
  void release_slot(std::uint32_t slot) {
    slots_[slot].seq = 0;
    slots_[slot].arg = free_head_;
    free_head_ = slot;
  }

  Time now_ = 0;
  std::uint64_t next_seq_ = 1;
  std::uint64_t executed_ = 0;
  std::uint64_t cancelled_entries_ = 0;  // queue entries (heap or now-queue) whose event was cancelled
  bool stopped_ = false;
  std::vector<Entry> heap_;  // 4-ary min-heap: shallower than binary, and a node's children share a cache line
  // Events scheduled for the current instant, in scheduling order. They come after every heap entry for the same
  // instant (those were scheduled before the instant began: the heap only takes later times), which keeps the
  // (time, sequence) order exact while zero-delay events (a message over a zero-latency link, a hand-off) skip
  // the heap.
  std::vector<NowEntry> now_queue_;
  std::size_t now_head_ = 0;
  std::vector<Slot> slots_;
  std::uint32_t free_head_ = kNoSlot;  // most recently freed first, so a hot slot stays in cache
  CallHandler calls_;
};

}  // namespace sim
