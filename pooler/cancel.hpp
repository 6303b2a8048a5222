// A one-shot connection that delivers a CancelRequest to Postgres or to the worker that owns the key.
#pragma once

#include <cstdint>
#include <string>

#include "pooler/event_loop.hpp"

namespace rpool {

class CancelConn : public IoHandler {
 public:
  // Starts the delivery; the object frees itself when done. Failures are logged.
  static void send(EventLoop& loop, const std::string& host, int port, uint32_t pid, uint32_t key);
  void on_io(uint32_t events) override;

 private:
  CancelConn(EventLoop& loop, int fd, std::string packet) : loop_(loop), fd_(fd), packet_(std::move(packet)) {}
  void finish();

  EventLoop& loop_;
  int fd_;
  std::string packet_;
  size_t sent_ = 0;
};

}  // namespace rpool
