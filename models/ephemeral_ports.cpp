// Source port choice at connect() after Linux __inet_hash_connect (RFC 6056 alg. 4), and TIME_WAIT.
#include "models/ephemeral_ports.hpp"

#include <algorithm>

#include "sim/assert.hpp"

namespace models {

namespace {

// A bijective 64-bit finalizer (the xorshift-multiply shape of SplitMix64 / MurmurHash3's fmix64).
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr bool is_loopback(std::uint32_t addr) { return (addr >> 24) == 127; }

}  // namespace

EphemeralPorts::EphemeralPorts(sim::RandomStream& rng, EphemeralPortsConfig config)
    : rng_(rng), config_(config), key0_(rng.next_u64()), key1_(rng.next_u64()) {
  RPSIM_ASSERT(config_.low >= 1 && config_.low <= config_.high,
               "EphemeralPorts: the port range must satisfy 1 <= low <= high");
  RPSIM_ASSERT(config_.time_wait >= 0, "EphemeralPorts: TIME_WAIT duration must be >= 0");
}

std::uint64_t EphemeralPorts::port_offset(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                                          sim::Time now) const {
  // Stands in for siphash_4u32(saddr, daddr, dport, jiffies / (10 * HZ), net_secret): a fresh value per
  // destination and per 10 s bucket, unpredictable without the key. Both halves are used, as in the kernel.
  const auto bucket = static_cast<std::uint64_t>(now / kShufflePeriod);
  std::uint64_t h = mix64(key0_ ^ ((static_cast<std::uint64_t>(saddr) << 32) | daddr));
  h = mix64(h ^ key1_ ^ ((bucket << 16) | dport));
  return mix64(h + key0_);
}

bool EphemeralPorts::tw_reuse_allowed(std::uint32_t saddr, std::uint32_t daddr) const {
  switch (config_.tw_reuse) {
    case TwReuse::kOff:
      return false;
    case TwReuse::kOn:
      return true;
    case TwReuse::kLoopbackOnly:
      return is_loopback(saddr) || is_loopback(daddr);
  }
  return false;
}

bool EphemeralPorts::try_claim(sim::Time& state, std::uint32_t saddr, std::uint32_t daddr, sim::Time now) {
  if (state == kLive) return false;
  // A TIME_WAIT socket that has not expired blocks the tuple unless tw_reuse kills it.
  if (state > now && !tw_reuse_allowed(saddr, daddr)) return false;
  state = kLive;
  ++live_count_;
  return true;
}

const sim::Time* EphemeralPorts::state_of(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                                          std::uint16_t sport) const {
  const auto it = ports_.find(Destination{saddr, daddr, dport});
  if (it == ports_.end() || sport < config_.low || sport > config_.high) return nullptr;
  return &it->second[sport - config_.low];
}

std::optional<std::uint16_t> EphemeralPorts::connect(std::uint32_t saddr, std::uint32_t daddr,
                                                     std::uint16_t dport, sim::Time now) {
  RPSIM_ASSERT(now >= last_now_, "EphemeralPorts::connect: time went backwards");
  last_now_ = now;

  if (table_perturb_.empty()) {
    table_perturb_.resize(kPerturbTableSize);
    for (auto& entry : table_perturb_) entry = rng_.next_u32();
  }

  // The kernel's arithmetic, type for type: u32 offset, an exclusive `high`, and an even `remaining` so that
  // one pass visits exactly the ports of one parity (which leaves the top port of an odd-sized range out of
  // one of the two start parities, as on a real host).
  constexpr std::uint32_t kStep = 2;
  const std::uint64_t offset64 = port_offset(saddr, daddr, dport, now);
  const auto index = static_cast<std::size_t>(offset64 & (kPerturbTableSize - 1));
  const int low = config_.low;
  const int high = static_cast<int>(config_.high) + 1;
  auto remaining = static_cast<std::uint32_t>(high - low);
  if (remaining > 1) remaining &= ~1u;

  std::uint32_t offset = table_perturb_[index] + static_cast<std::uint32_t>(offset64 >> 32);
  offset %= remaining;
  offset &= ~1u;  // first pass: ports with low's parity

  std::vector<sim::Time>& states = ports_[Destination{saddr, daddr, dport}];
  if (states.empty()) states.assign(static_cast<std::size_t>(high - low), 0);
  for (;;) {
    int port = low + static_cast<int>(offset);
    for (std::uint32_t i = 0; i < remaining; i += kStep, port += static_cast<int>(kStep)) {
      if (port >= high) port -= static_cast<int>(remaining);
      if (try_claim(states[static_cast<std::size_t>(port - low)], saddr, daddr, now)) {
        // Low contention (i small) gets a random stride of up to 14 extra; high contention skips what it
        // scanned.
        const auto jitter = static_cast<std::uint32_t>(rng_.below(8)) * kStep;
        table_perturb_[index] += std::max(i, jitter) + kStep;
        return static_cast<std::uint16_t>(port);
      }
    }
    ++offset;
    if (!((offset & 1u) && remaining > 1)) return std::nullopt;  // both parities scanned: EADDRNOTAVAIL
  }
}

void EphemeralPorts::close(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport, std::uint16_t sport,
                           sim::Time now) {
  RPSIM_ASSERT(now >= last_now_, "EphemeralPorts::close: time went backwards");
  last_now_ = now;
  sim::Time* state = state_of(saddr, daddr, dport, sport);
  RPSIM_ASSERT(state != nullptr && *state == kLive, "EphemeralPorts::close: no live connection on this tuple");
  --live_count_;
  *state = config_.time_wait == 0 ? 0 : now + config_.time_wait;
}

bool EphemeralPorts::is_live(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                             std::uint16_t sport) const {
  const sim::Time* state = state_of(saddr, daddr, dport, sport);
  return state != nullptr && *state == kLive;
}

bool EphemeralPorts::in_time_wait(std::uint32_t saddr, std::uint32_t daddr, std::uint16_t dport,
                                  std::uint16_t sport, sim::Time now) const {
  const sim::Time* state = state_of(saddr, daddr, dport, sport);
  return state != nullptr && *state != kLive && *state > now;
}

}  // namespace models
