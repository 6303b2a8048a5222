// The per-worker epoll loop: level-triggered fd handlers, a periodic tick, and a hook run after each batch.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>

namespace rpool {

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void on_io(uint32_t events) = 0;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void add(int fd, uint32_t events, IoHandler* handler);
  void modify(int fd, uint32_t events, IoHandler* handler);
  void remove(int fd);

  // Runs until stop(). tick runs about every tick_ms; after_batch runs after each epoll_wait batch
  // (the place to free connections closed during the batch, so no handler sees a freed object).
  void run(int tick_ms, const std::function<void()>& tick, const std::function<void()>& after_batch);
  // One epoll_wait (at most timeout_ms; 0: do not wait) and its handlers; returns how many fds had events.
  // run() is a loop of these; a test harness can drive a worker one batch at a time with it.
  int poll_once(int timeout_ms);
  int fd() const { return epfd_; }  // readable while events are pending (lets a harness poll it with others)
  void stop() { running_ = false; }

  static int64_t now_us();  // monotonic

 private:
  int epfd_;
  bool running_ = false;
};

// What one connection has asked epoll for: registers the fd on first use and re-arms it only when the wanted
// events change, so the hot path (events unchanged) makes no epoll_ctl call.
class Interest {
 public:
  void set(EventLoop& loop, int fd, uint32_t want, IoHandler* handler);
  void forget(EventLoop& loop, int fd);  // before the fd is closed
  uint32_t events() const { return events_; }

 private:
  bool registered_ = false;
  uint32_t events_ = 0;
};

}  // namespace rpool
