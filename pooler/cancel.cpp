// Delivery of CancelRequest packets on fresh connections, as the protocol requires.
#include "pooler/cancel.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pooler/listener.hpp"
#include "pooler/log.hpp"
#include "pooler/protocol.hpp"

namespace rpool {

void CancelConn::send(EventLoop& loop, const std::string& host, int port, uint32_t pid, uint32_t key) {
  std::string error;
  int fd = connect_nonblocking(host, port, &error);
  if (fd < 0) {
    log_warn("cancel request to %s:%d not delivered: %s", host.c_str(), port, error.c_str());
    return;
  }
  auto* c = new CancelConn(loop, fd, pg::cancel_request(pid, key));
  loop.add(fd, EPOLLOUT, c);
}

void CancelConn::on_io(uint32_t events) {
  if (events & (EPOLLERR | EPOLLHUP)) {
    log_warn("cancel request not delivered: the connection failed");
    return finish();
  }
  while (sent_ < packet_.size()) {
    ssize_t n = ::send(fd_, packet_.data() + sent_, packet_.size() - sent_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    log_warn("send() of a cancel request failed: %s", strerror(errno));
    break;
  }
  finish();
}

void CancelConn::finish() {
  loop_.remove(fd_);
  ::close(fd_);
  // Safe: an fd appears at most once per epoll batch, and this is its handler running now.
  delete this;
}

}  // namespace rpool
