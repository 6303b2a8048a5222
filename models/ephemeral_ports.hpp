// A client's TCP source port choice at connect() (Linux __inet_hash_connect), and TIME_WAIT bookkeeping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "models/four_tuple.hpp"
#include "sim/random.hpp"
#include "sim/time.hpp"

namespace models {

// The net.ipv4.tcp_tw_reuse values. The kernel default, 2, allows reuse only when either address is loopback.
enum class TwReuse { kOff = 0, kOn = 1, kLoopbackOnly = 2 };

struct EphemeralPortsConfig {
  std::uint16_t low = 32768;  // net.ipv4.ip_local_port_range, both ends inclusive
  std::uint16_t high = 60999;
  TwReuse tw_reuse = TwReuse::kLoopbackOnly;
  sim::Time time_wait = sim::seconds(60);  // TCP_TIMEWAIT_LEN
};

// The kernel scans from a start that is fixed for one (saddr, daddr, dport) within a 10 s window and advanced
// by a per-bucket perturbation after every success, so successive connects to one server get increasing ports
// of low's parity with small random gaps; the other parity is used only once a whole parity is taken. The
// kernel's siphash key is unknowable, so the start comes from a keyed mix of our own with a per-run key: the
// same structure, not the same numbers as any real host.
//
// Draws from the stream: two words at construction, 2^16 words at the first connect() (the perturbation
// table), and one below(8) per successful connect(). The stream must outlive this object.
class EphemeralPorts {
 public:
  explicit EphemeralPorts(sim::RandomStream& rng, EphemeralPortsConfig config = {});

  // The source port for a new connection from saddr to daddr:dport, or nullopt when every port of the range
  // is taken for that destination (EADDRNOTAVAIL). `now` must not decrease between calls.
  [[nodiscard]] std::optional<std::uint16_t> connect(std::uint32_t saddr, std::uint32_t daddr,
                                                     std::uint16_t dport, sim::Time now);
  // The client closes first (active close), so its side of the 4-tuple sits in TIME_WAIT for
  // config.time_wait.
  void close(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport, std::uint16_t sport,
             sim::Time now);

  [[nodiscard]] bool is_live(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                             std::uint16_t sport) const;
  // Whether the tuple is still in TIME_WAIT at `now` (expiry is lazy, so this compares times itself).
  [[nodiscard]] bool in_time_wait(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                                  std::uint16_t sport, sim::Time now) const;
  [[nodiscard]] std::size_t live_count() const { return live_count_; }
  [[nodiscard]] const EphemeralPortsConfig& config() const { return config_; }

  // CONFIG_INET_TABLE_PERTURB_ORDER = 16 and EPHEMERAL_PORT_SHUFFLE_PERIOD.
  static constexpr std::size_t kPerturbTableSize = 65536;
  static constexpr sim::Time kShufflePeriod = sim::seconds(10);

 private:
  // The state of one port towards one destination: kLive while a connection holds it, else the end of its
  // TIME_WAIT (0 if never used), so any value <= now means free. Expired TIME_WAIT needs no clean-up.
  static constexpr sim::Time kLive = -1;
  // Destinations in the client's view: (saddr, daddr, dport).
  using Destination = std::tuple<std::uint32_t, std::uint32_t, std::uint16_t>;

  [[nodiscard]] std::uint64_t port_offset(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                                          sim::Time now) const;
  // Takes the port for a new connection if no live connection holds it and TIME_WAIT does not forbid it.
  [[nodiscard]] bool try_claim(sim::Time& state, std::uint32_t saddr, std::uint32_t daddr, sim::Time now);
  [[nodiscard]] bool tw_reuse_allowed(std::uint32_t saddr, std::uint32_t daddr) const;
  // The state of sport towards a destination; nullptr if that destination was never connected to or the
  // port is outside the range.
  [[nodiscard]] const sim::Time* state_of(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                                          std::uint16_t sport) const;
  [[nodiscard]] sim::Time* state_of(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                                    std::uint16_t sport) {
    return const_cast<sim::Time*>(std::as_const(*this).state_of(saddr, daddr, dport, sport));
  }

  sim::RandomStream& rng_;
  EphemeralPortsConfig config_;
  std::uint64_t key0_;
  std::uint64_t key1_;
  // Empty until the first connect(), as the kernel allocates it lazily.
  std::vector<std::uint32_t> table_perturb_;
  // One flat array of port states per destination, indexed by port - low: 8 bytes a port, where a hash node
  // per connection took about 60 (this is most of the kernel model's memory at a million connections). Only
  // looked up, never iterated.
  std::map<Destination, std::vector<sim::Time>> ports_;
  std::size_t live_count_ = 0;
  sim::Time last_now_ = 0;
};

}  // namespace models
