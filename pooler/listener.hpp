// Sockets: the SO_REUSEPORT TCP listener each worker opens, unix listeners, and outgoing connects.
#pragma once

#include <cstdint>
#include <string>

namespace rpool {

// Each worker calls this itself, so the kernel's reuseport group holds one socket per worker in start order.
// Returns -1 after logging which call failed.
[[nodiscard]] int open_reuseport_listener(const std::string& addr, int port, int backlog);
// A unix listener at dir/.s.PGSQL.port (a stale socket file is replaced). -1 on failure.
[[nodiscard]] int open_unix_listener(const std::string& dir, int port, int backlog);
std::string unix_socket_path(const std::string& dir, int port);
// A listener in the abstract unix namespace (no file): workers' private sockets for forwarded cancels.
[[nodiscard]] int open_abstract_listener(const std::string& name, bool quiet);
// Non-blocking connect to host:port, to host/.s.PGSQL.port when host starts with '/', or to the abstract
// unix socket named by the rest of host when it starts with '@'. -1 on immediate failure.
[[nodiscard]] int connect_nonblocking(const std::string& host, int port, std::string* error);
// Peer address text and port for SHOW CLIENTS ("unix" for unix sockets).
void describe_peer(int fd, bool local, std::string* addr, int* port);
void set_nodelay(int fd);

// Numbers for the id column of SHOW CLIENTS / SHOW SERVERS, unique within a worker.
inline uint64_t next_serial() {
  static uint64_t counter = 0;
  return ++counter;
}

// Both ends of a connection as text, looked up once on first use (SHOW CLIENTS / SERVERS).
struct PeerInfo {
  bool known = false;
  std::string addr, local_addr;
  int port = 0, local_port = 0;
  const PeerInfo& fill(int fd) {
    if (!known && fd >= 0) {
      describe_peer(fd, false, &addr, &port);
      describe_peer(fd, true, &local_addr, &local_port);
      known = true;
    }
    return *this;
  }
};

}  // namespace rpool
