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
  void stop() { running_ = false; }

  static int64_t now_us();  // monotonic

 private:
  int epfd_;
  bool running_ = false;
};

}  // namespace rpool
