// One SO_REUSEPORT group's socket array as the kernel keeps it, and its choice of listener for a SYN.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "models/jhash.hpp"
#include "sim/assert.hpp"

namespace models {

// Members are plain socket ids (non-negative), so callers can index their own per-socket data with them.
// The order of members() is the kernel's array order, which the hash indexes into: listen() appends, close()
// moves the last member into the hole. That reshuffle is the whole reason this class exists: after a close a
// worker's slot (and thus which flows it gets) changes although the worker itself did nothing.
class ReuseportGroup {
 public:
  // listen(): the socket joins at the end of the array.
  void listen(int id);
  // close() or shutdown() of a listener. With net.ipv4.tcp_migrate_req=1 (or a SELECT_OR_MIGRATE program) the
  // socket is parked in the closed section, where it is never selected but from which relisten() can revive
  // it.
  void close(int id, bool migrate_enabled);
  // listen() again on a parked socket (reuseport_resurrect): it rejoins at the end, not in its old slot.
  void relisten(int id);
  // The final close of a parked socket's fd: it leaves the closed section for good.
  void release(int id);

  // The choice for a SYN without BPF and without SO_INCOMING_CPU (every kernel since 4.6).
  [[nodiscard]] std::optional<int> select_by_hash(std::uint32_t hash) const;

  // Kernel >= 6.2 when some member set SO_INCOMING_CPU: scan from the hash index, wrapping, for the first
  // member whose incoming cpu is the CPU handling the SYN; if none, the hash-chosen member. cpu_of(id) is the
  // socket's SO_INCOMING_CPU, -1 when unset (the kernel default). If no member has one set, this equals
  // select_by_hash.
  template <class CpuOf>
  requires std::invocable<CpuOf&, int>
  [[nodiscard]] std::optional<int> select_incoming_cpu(std::uint32_t hash, int current_cpu,
                                                       CpuOf&& cpu_of) const {
    RPSIM_ASSERT(current_cpu >= 0, "select_incoming_cpu: the SYN is handled on a real CPU (>= 0)");
    if (live_.empty()) return std::nullopt;
    const std::size_t n = live_.size();
    const std::size_t start = reciprocal_scale(hash, static_cast<std::uint32_t>(n));
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (start + k) % n;
      if (static_cast<int>(cpu_of(live_[i])) == current_cpu) return live_[i];
    }
    return live_[start];
  }
  // Same, with the incoming cpu of each socket looked up as incoming_cpu_of[id].
  [[nodiscard]] std::optional<int> select_incoming_cpu(std::uint32_t hash, int current_cpu,
                                                       std::span<const int> incoming_cpu_of) const;

  // tcp_migrate_req: where a closed listener's queued child (or request) goes. `hash` is the child's own
  // ehash, computed with its real local address (inet_ehashfn with wildcard_listener = false), not the
  // listener's hash. Call after close(): only the remaining live listeners are candidates; nullopt means the
  // child is reset. The kernel runs the same by-hash routine as for a SYN, so if SO_INCOMING_CPU is in use,
  // call select_incoming_cpu with the child's hash instead.
  [[nodiscard]] std::optional<int> select_migration_target(std::uint32_t child_hash) const;

  [[nodiscard]] std::size_t size() const { return live_.size(); }
  [[nodiscard]] bool empty() const { return live_.empty(); }
  [[nodiscard]] std::span<const int> members() const { return live_; }
  // The closed section, in no meaningful order (selection never looks at it).
  [[nodiscard]] std::span<const int> closed_members() const { return closed_; }
  [[nodiscard]] bool is_member(int id) const;
  [[nodiscard]] bool is_parked(int id) const;

 private:
  std::vector<int> live_;
  std::vector<int> closed_;
};

}  // namespace models
