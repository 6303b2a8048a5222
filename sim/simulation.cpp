// The simulation kernel's event queue and run loop.
#include "sim/simulation.hpp"

#include <algorithm>
#include <utility>

namespace sim {

EventId Simulation::schedule_at(Time at, EventHandler* handler, std::uint32_t kind, std::uint64_t arg) {
  RPSIM_ASSERT(at >= now_, "events cannot be scheduled in the past");
  RPSIM_ASSERT(handler != nullptr, "an event needs a handler");
  const std::uint32_t slot = allocate_slot();
  const std::uint64_t seq = next_seq_++;
  slots_[slot] = Slot{handler, arg, seq};
  if (at == now_) {
    now_queue_.push_back(Entry{at, seq, slot, kind});
  } else {
    heap_push(Entry{at, seq, slot, kind});
  }
  return EventId{slot, seq};
}

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

bool Simulation::cancel(EventId id) {
  if (!pending(id)) return false;
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
  return true;
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

Simulation::Entry Simulation::pop_next() {
  if (next_in_heap()) return heap_pop();
  const Entry e = now_queue_[now_head_++];
  if (now_head_ == now_queue_.size()) {
    now_queue_.clear();  // drained: start again at the front, keeping the capacity
    now_head_ = 0;
  }
  return e;
}

void Simulation::dispatch(const Entry& e) {
  Slot& s = slots_[e.slot];
  now_ = e.time;
  EventHandler* handler = s.handler;
  const std::uint64_t arg = s.arg;
  release_slot(e.slot);  // before the call, so the handler may reuse the slot at once
  ++executed_;
  handler->handle_event(e.kind, arg);
}

bool Simulation::step() {
  while (!empty()) {
    const Entry e = pop_next();
    if (slots_[e.slot].seq != e.seq) {  // cancelled; its slot may already serve a newer event
      --cancelled_entries_;
      continue;
    }
    dispatch(e);
    return true;
  }
  return false;
}

void Simulation::run_until(Time until) {
  stopped_ = false;
  while (!stopped_ && !empty()) {
    // Stale (cancelled) entries at the front must not decide whether the next real event is past `until`.
    const Entry& next = next_in_heap() ? heap_.front() : now_queue_[now_head_];
    if (slots_[next.slot].seq == next.seq && next.time > until) break;
    const Entry e = pop_next();
    if (slots_[e.slot].seq == e.seq) {
      dispatch(e);
    } else {
      --cancelled_entries_;
    }
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

Simulation::Entry Simulation::heap_pop() {
  const Entry top = heap_.front();
  const Entry last = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0, last);
  return top;
}

void Simulation::sift_down(std::size_t hole, Entry e) {
  const std::size_t n = heap_.size();
  for (;;) {
    const std::size_t first = 4 * hole + 1;
    if (first >= n) break;
    std::size_t best = first;
    const std::size_t end = first + 4 < n ? first + 4 : n;
    for (std::size_t c = first + 1; c < end; ++c) {
      if (earlier(heap_[c], heap_[best])) best = c;
    }
    if (!earlier(heap_[best], e)) break;
    heap_[hole] = heap_[best];
    hole = best;
  }
  heap_[hole] = e;
}

}  // namespace sim
