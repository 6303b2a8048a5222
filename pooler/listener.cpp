// Opens listening and outgoing sockets; every failure logs the failed call and returns -1.
#include "pooler/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "pooler/log.hpp"

namespace rpool {

std::string unix_socket_path(const std::string& dir, int port) { return dir + "/.s.PGSQL." + std::to_string(port); }

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int open_reuseport_listener(const std::string& addr, int port, int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  const char* node = (addr == "*" || addr.empty()) ? "0.0.0.0" : addr.c_str();
  int rc = getaddrinfo(node, port_text.c_str(), &hints, &res);
  if (rc != 0) {
    log_error("getaddrinfo(%s) failed: %s", node, gai_strerror(rc));
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log_error("socket() failed: %s", strerror(errno));
    freeaddrinfo(res);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    log_error("setsockopt(SO_REUSEPORT) failed: %s", strerror(errno));
    close(fd);
    freeaddrinfo(res);
    return -1;
  }
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    log_error("bind(%s:%d) failed: %s", node, port, strerror(errno));
    close(fd);
    freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  if (listen(fd, backlog) != 0) {
    log_error("listen(%s:%d) failed: %s", node, port, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int open_unix_listener(const std::string& dir, int port, int backlog) {
  std::string path = unix_socket_path(dir, port);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    log_error("unix socket path too long: %s", path.c_str());
    return -1;
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log_error("socket(AF_UNIX) failed: %s", strerror(errno));
    return -1;
  }
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    log_error("bind(%s) failed: %s", path.c_str(), strerror(errno));
    close(fd);
    return -1;
  }
  chmod(path.c_str(), 0777);
  if (listen(fd, backlog) != 0) {
    log_error("listen(%s) failed: %s", path.c_str(), strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int open_abstract_listener(const std::string& name, bool quiet) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (name.size() + 1 >= sizeof sa.sun_path) return -1;
  std::memcpy(sa.sun_path + 1, name.data(), name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log_error("socket(AF_UNIX) failed: %s", strerror(errno));
    return -1;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 || listen(fd, 64) != 0) {
    if (!quiet) log_warn("bind/listen(@%s) failed: %s", name.c_str(), strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int connect_nonblocking(const std::string& host, int port, std::string* error) {
  int fd = -1;
  int rc = 0;
  if (!host.empty() && host[0] == '@') {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::string name = host.substr(1);
    if (name.size() + 1 >= sizeof sa.sun_path) {
      *error = "abstract socket name too long";
      return -1;
    }
    std::memcpy(sa.sun_path + 1, name.data(), name.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *error = std::string("socket() failed: ") + strerror(errno);
      return -1;
    }
    rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), len);
  } else if (!host.empty() && host[0] == '/') {
    std::string path = unix_socket_path(host, port);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) {
      *error = "unix socket path too long";
      return -1;
    }
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *error = std::string("socket() failed: ") + strerror(errno);
      return -1;
    }
    rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port_text = std::to_string(port);
    int g = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
    if (g != 0) {
      *error = std::string("getaddrinfo(") + host + ") failed: " + gai_strerror(g);
      return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *error = std::string("socket() failed: ") + strerror(errno);
      freeaddrinfo(res);
      return -1;
    }
    set_nodelay(fd);
    rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
  }
  if (rc != 0 && errno != EINPROGRESS && errno != EAGAIN) {
    *error = std::string("connect() failed: ") + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

void describe_peer(int fd, bool local, std::string* addr, int* port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = local ? getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                 : getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *addr = "unix";
  *port = 0;
  if (rc != 0) return;
  char text[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text);
    *addr = text;
    *port = ntohs(sa->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sa->sin6_addr, text, sizeof text);
    *addr = text;
    *port = ntohs(sa->sin6_port);
  }
}

}  // namespace rpool
