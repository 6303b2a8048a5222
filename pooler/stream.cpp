// Buffered non-blocking socket I/O.
#include "pooler/stream.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace rpool {

void Buffer::consume(size_t n) {
  start_ += n;
  if (start_ >= end_) start_ = end_ = 0;
}

char* Buffer::reserve(size_t n) {
  if (buf_.size() - end_ < n) {
    if (start_ > 0) {  // slide the unread bytes to the front before growing
      std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    if (buf_.size() - end_ < n) buf_.resize(std::max(buf_.size() * 2, end_ + n));
  }
  return buf_.data() + end_;
}

void Buffer::append(const char* p, size_t n) {
  std::memcpy(reserve(n), p, n);
  end_ += n;
}

Stream::~Stream() { close_fd(); }

void Stream::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

ReadResult Stream::read_some(size_t* got) {
  constexpr size_t kChunk = 16384;
  constexpr size_t kCap = 256 * 1024;  // leave the socket for the next round so one peer cannot starve others
  size_t total = 0;
  while (total < kCap) {
    char* p = in_.reserve(kChunk);
    ssize_t n = ::recv(fd_, p, kChunk, 0);
    if (n > 0) {
      in_.commit(static_cast<size_t>(n));
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < kChunk) break;  // drained for now
      continue;
    }
    if (n == 0) {
      bytes_in_ += total;
      if (got) *got = total;
      return ReadResult::closed;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    bytes_in_ += total;
    if (got) *got = total;
    return ReadResult::error;
  }
  bytes_in_ += total;
  if (got) *got = total;
  return total > 0 ? ReadResult::ok : ReadResult::would_block;
}

bool Stream::flush() {
  while (!out_.empty()) {
    ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out_.consume(static_cast<size_t>(n));
      bytes_out_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  return true;
}

}  // namespace rpool
