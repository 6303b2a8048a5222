// A non-blocking socket with an input and an output buffer (PgBouncer's sbuf, without the state machine).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace rpool {

class Buffer {
 public:
  const char* data() const { return buf_.data() + start_; }
  size_t size() const { return end_ - start_; }
  bool empty() const { return start_ == end_; }
  void consume(size_t n);
  void append(const char* p, size_t n);
  void append(std::string_view s) { append(s.data(), s.size()); }
  // Space for at least n more bytes at the end; commit() what was written there.
  char* reserve(size_t n);
  void commit(size_t n) { end_ += n; }
  void clear() { start_ = end_ = 0; }

 private:
  std::vector<char> buf_;
  size_t start_ = 0;
  size_t end_ = 0;
};

enum class ReadResult { ok, would_block, closed, error };

class Stream {
 public:
  explicit Stream(int fd) : fd_(fd) {}
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int fd() const { return fd_; }
  void attach(int fd) { fd_ = fd; }
  Buffer& in() { return in_; }
  Buffer& out() { return out_; }
  const Buffer& in() const { return in_; }
  const Buffer& out() const { return out_; }

  // Reads what the socket has (up to a fairness cap) into in().
  ReadResult read_some(size_t* got = nullptr);
  // Writes out(); false on a hard error (errno kept). Leaves the rest buffered on EAGAIN.
  [[nodiscard]] bool flush();
  void close_fd();

  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

 private:
  int fd_;
  Buffer in_;
  Buffer out_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

}  // namespace rpool
