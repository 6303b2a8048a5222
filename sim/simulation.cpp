// The simulation kernel's event queue and run loop.
#include "sim/simulation.hpp"

#include <algorithm>
#include <utility>

namespace sim {

EventId Simulation::call_at(Time at, std::function<void()> fn) {
  std::uint32_t index;
  if (!calls_.free_.empty()) {
    index = calls_.free_.back();
    calls_.free_.pop_back();
    calls_.calls_[index] = std::move(fn);
  } else {
    index = static_cast<std::uint32_t>(calls_.calls_.size());
    calls_.calls_.push_back(std::move(fn));
  }
  return schedule_at(at, &calls_, 0, index);
}

void Simulation::CallHandler::handle_event(std::uint32_t, std::uint64_t arg) {
  // Moved out first: the call may schedule further calls, which may grow the vector.
  std::function<void()> fn = std::move(calls_[arg]);
  calls_[arg] = nullptr;
  free_.push_back(static_cast<std::uint32_t>(arg));
  fn();
}

void Simulation::schedule_detached_slow(Time delay, EventHandler* handler, std::uint32_t kind, std::uint64_t arg) {
  RPSIM_ASSERT(delay >= 0, "events cannot be scheduled in the past");
  RPSIM_ASSERT(handler != nullptr, "an event needs a handler");
  if (delay == 0) {
    now_queue_.push_back(NowEntry{handler, arg, 0, kNoSlot, kind});  // the queue grows
  } else {
    schedule_at(now_ + delay, handler, kind, arg);
  }
}

std::uint32_t Simulation::new_slot() {
  slots_.push_back(Slot{nullptr, 0, 0});
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

void Simulation::cancel_pending(EventId id) {
  if (slots_[id.slot].handler == &calls_) {
    const auto index = slots_[id.slot].arg;
    calls_.calls_[index] = nullptr;
    calls_.free_.push_back(static_cast<std::uint32_t>(index));
  }
  release_slot(id.slot);
  ++cancelled_entries_;
  // Only the heap is rebuilt: the now-queue drains before time moves on, and its cancelled entries with it.
  constexpr std::size_t kMinRebuild = 1024;  // below this, lazy deletion costs less than any rebuild
  if (heap_.size() >= kMinRebuild && cancelled_entries_ > heap_.size() / 4) drop_cancelled();
}

void Simulation::drop_cancelled() {
  const auto live_end =
      std::remove_if(heap_.begin(), heap_.end(), [&](const Entry& e) { return slots_[e.slot].seq != e.seq; });
  cancelled_entries_ -= static_cast<std::uint64_t>(heap_.end() - live_end);
  heap_.erase(live_end, heap_.end());
  // Floyd's construction, from the last parent up. The run order does not depend on the layout: (time, seq)
  // keys are unique.
  if (heap_.size() < 2) return;
  for (std::size_t i = (heap_.size() - 2) / 4 + 1; i-- > 0;) sift_down(i, heap_[i]);
}

// Inline: once per timed event.
inline void Simulation::heap_pop_front() {
  const Entry last = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0, last);
}

// Inlined into both callers: run_until() then pays the register saves of one call per slice, not one per event.
inline bool Simulation::run_next(Time until) {
  for (;;) {
    // At an instant, the heap's entries due at it run first (they are older than anything in the now-queue),
    // then the now-queue in FIFO order; only then does time move on.
    if (now_head_ != now_queue_.size() && (heap_.empty() || heap_.front().time != now_)) {
      if (now_ > until) return false;
      // Read in place (no copy): the queue is only reset below, once it has drained and time moves on.
      const NowEntry& e = now_queue_[now_head_++];
      if (e.slot != kNoSlot) {
        if (slots_[e.slot].seq != e.seq) {  // cancelled
          --cancelled_entries_;
          continue;
        }
        release_slot(e.slot);
      }
      ++executed_;
      e.handler->handle_event(e.kind, e.arg);
      return true;
    }
    if (now_head_ != 0 && now_head_ == now_queue_.size()) {
      now_queue_.clear();  // drained: start again at the front, keeping the capacity
      now_head_ = 0;
    }
    if (heap_.empty()) return false;
    const Entry e = heap_.front();
    Slot& slot = slots_[e.slot];
    // A cancelled entry's slot has a newer sequence (or none); it is dropped without deciding anything, so a
    // stale entry at the front never stops the run before a real event that is due.
    const bool live = slot.seq == e.seq;
    if (live && e.time > until) return false;
    heap_pop_front();
    if (!live) {
      --cancelled_entries_;
      continue;
    }
    now_ = e.time;
    EventHandler* handler = slot.handler;
    const std::uint64_t arg = slot.arg;
    release_slot(e.slot);  // before the call, so the handler may reuse the slot at once
    ++executed_;
    handler->handle_event(e.kind, arg);
    return true;
  }
}

bool Simulation::step() { return run_next(kTimeMax); }

void Simulation::run_until(Time until) {
  stopped_ = false;
  while (!stopped_ && run_next(until)) {
  }
  if (!stopped_ && until != kTimeMax && until > now_) now_ = until;
}

void Simulation::heap_push(Entry e) {
  heap_.push_back(e);
  std::size_t i = heap_.size() - 1;
  while (i > 0) {
    const std::size_t parent = (i - 1) / 4;
    if (!earlier(e, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}


void Simulation::sift_down(std::size_t hole, Entry e) {
  const std::size_t n = heap_.size();
  Entry* const h = heap_.data();
  for (;;) {
    const std::size_t first = 4 * hole + 1;
    std::size_t best;
    if (first + 4 <= n) {
      // All four children exist (every level but the last): a tournament of three comparisons, two of them
      // independent, instead of a loop. Keys are unique, so the winner is the same as a scan's.
      const std::size_t a = earlier_of(h, first, first + 1);
      const std::size_t b = earlier_of(h, first + 2, first + 3);
      best = earlier_of(h, a, b);
    } else {
      if (first >= n) break;
      best = first;
      for (std::size_t c = first + 1; c < n; ++c) {
        if (earlier(h[c], h[best])) best = c;
      }
    }
    if (!earlier(h[best], e)) break;
    h[hole] = h[best];
    hole = best;
  }
  h[hole] = e;
}

}  // namespace sim
