// A TCP connection's IPv4 4-tuple in host byte order: the key of the kernel's hashes and the model's tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/assert.hpp"

namespace models {

// Host order throughout (10.0.0.1 is 0x0a000001, port 6432 is 6432); the conversion to the kernel's
// wire-order words happens in one place only, models/jhash.hpp, so nothing else has to think about byte
// order.
struct FourTuple {
  std::uint32_t local_addr = 0;
  std::uint16_t local_port = 0;
  std::uint32_t remote_addr = 0;
  std::uint16_t remote_port = 0;

  friend constexpr bool operator==(const FourTuple&, const FourTuple&) = default;
};

constexpr std::uint32_t ipv4(int a, int b, int c, int d) {
  RPSIM_ASSERT(a >= 0 && a <= 255 && b >= 0 && b <= 255 && c >= 0 && c <= 255 && d >= 0 && d <= 255,
               "ipv4(): each octet must be in 0..255");
  return (static_cast<std::uint32_t>(a) << 24) | (static_cast<std::uint32_t>(b) << 16) |
         (static_cast<std::uint32_t>(c) << 8) | static_cast<std::uint32_t>(d);
}

inline std::string to_string(std::uint32_t addr) {
  return std::to_string(addr >> 24) + '.' + std::to_string((addr >> 16) & 0xff) + '.' +
         std::to_string((addr >> 8) & 0xff) + '.' + std::to_string(addr & 0xff);
}

// For unordered containers. Only lookups may depend on it: iterating such a container must never drive
// events, because this hash (and the standard library's bucket layout) is not part of the model.
struct FourTupleHash {
  std::size_t operator()(const FourTuple& t) const noexcept {
    std::uint64_t z = (static_cast<std::uint64_t>(t.local_addr) << 32) | t.remote_addr;
    z ^= ((static_cast<std::uint64_t>(t.local_port) << 16) | t.remote_port) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 31)) * 0xd6e8feb86659fd93ULL;
    z = (z ^ (z >> 32)) * 0xd6e8feb86659fd93ULL;
    return static_cast<std::size_t>(z ^ (z >> 32));
  }
};

}  // namespace models
