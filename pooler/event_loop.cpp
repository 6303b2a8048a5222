// epoll wrapper: one fd per handler, errors in epoll_ctl are tier-1 because they mean our bookkeeping is wrong.
#include "pooler/event_loop.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "pooler/log.hpp"

namespace rpool {

EventLoop::EventLoop() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) die("epoll_create1 failed: %s", strerror(errno));
}

EventLoop::~EventLoop() { close(epfd_); }

void EventLoop::add(int fd, uint32_t events, IoHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl(ADD, fd %d) failed: %s", fd, strerror(errno));
}

void EventLoop::modify(int fd, uint32_t events, IoHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) die("epoll_ctl(MOD, fd %d) failed: %s", fd, strerror(errno));
}

void EventLoop::remove(int fd) {
  if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT && errno != EBADF)
    log_error("epoll_ctl(DEL, fd %d) failed: %s", fd, strerror(errno));
}

int64_t EventLoop::now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int EventLoop::poll_once(int timeout_ms) {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int n = epoll_wait(epfd_, events, kMaxEvents, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;
    die("epoll_wait failed: %s", strerror(errno));
  }
  for (int i = 0; i < n; ++i) static_cast<IoHandler*>(events[i].data.ptr)->on_io(events[i].events);
  return n;
}

void EventLoop::run(int tick_ms, const std::function<void()>& tick, const std::function<void()>& after_batch) {
  running_ = true;
  int64_t next_tick = now_us() + tick_ms * 1000;
  while (running_) {
    // Rounded up: epoll_wait never returns before its timeout, so the wait ends at or after the tick. Rounded down,
    // a loop woken in the last millisecond before a tick polled with timeout 0 until the tick was due, a run of up
    // to 1 ms every tick without sleeping (tests/pooler/test_event_loop.cpp).
    int64_t wait_ms = (next_tick - now_us() + 999) / 1000;
    if (wait_ms < 0) wait_ms = 0;
    poll_once(static_cast<int>(wait_ms));
    after_batch();
    if (now_us() >= next_tick) {
      tick();
      after_batch();
      next_tick = now_us() + tick_ms * 1000;
    }
  }
}

void Interest::set(EventLoop& loop, int fd, uint32_t want, IoHandler* handler) {
  if (!registered_) {
    loop.add(fd, want, handler);
    registered_ = true;
  } else if (want != events_) {
    loop.modify(fd, want, handler);
  }
  events_ = want;
}

void Interest::forget(EventLoop& loop, int fd) {
  if (registered_) loop.remove(fd);
  registered_ = false;
}

}  // namespace rpool
