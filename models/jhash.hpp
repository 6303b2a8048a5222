// The Linux TCP hash that picks a reuseport listener (inet_ehashfn over jhash_3words) and its index scaling.
#pragma once

#include <cstdint>

#include "models/four_tuple.hpp"

namespace models {

constexpr std::uint32_t rol32(std::uint32_t word, unsigned shift) {
  shift &= 31u;
  return shift == 0 ? word : (word << shift) | (word >> (32u - shift));
}

inline constexpr std::uint32_t kJhashInitval = 0xdeadbeefu;

// Bob Jenkins' lookup3 final mix on three words, as include/linux/jhash.h applies it; the rotation constants
// and their order are the kernel's, so any deviation would change every listener choice.
constexpr std::uint32_t jhash_3words(std::uint32_t a, std::uint32_t b, std::uint32_t c,
                                     std::uint32_t initval) {
  const std::uint32_t seed = initval + kJhashInitval + (3u << 2);
  a += seed;
  b += seed;
  c += seed;
  c ^= b;
  c -= rol32(b, 14);
  a ^= c;
  a -= rol32(c, 11);
  b ^= a;
  b -= rol32(a, 25);
  c ^= b;
  c -= rol32(b, 16);
  a ^= c;
  a -= rol32(c, 4);
  b ^= a;
  b -= rol32(a, 14);
  c ^= b;
  c -= rol32(b, 24);
  return c;
}

// Multiply-and-shift, not modulo: the index comes from the hash's HIGH bits. That is why, with a fixed hash,
// the index among 4 listeners divided by 2 is exactly the index among 2.
constexpr std::uint32_t reciprocal_scale(std::uint32_t val, std::uint32_t n) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(val) * n) >> 32);
}

// Linux 6.15 moved the local port out of jhash (added after it) so connect() can derive every candidate
// port's hash from one jhash call; the listener choice therefore differs between kernels for the same tuple
// and secret.
enum class HashFormula {
  kLinux615,  // >= 6.15: lport + jhash_3words(laddr, faddr, fport_be, K)
  kLinux614,  // <= 6.14: jhash_3words(laddr, faddr, (lport << 16) | fport_be, K)
};

// What a little-endian CPU reads as a native integer from the network-order bytes of a host-order value: the
// kernel hashes __be32/__be16 fields without converting them, so on x86 the hash sees byte-swapped words.
constexpr std::uint32_t raw_be32(std::uint32_t host_order) {
  return (host_order >> 24) | ((host_order >> 8) & 0x0000ff00u) | ((host_order << 8) & 0x00ff0000u) |
         (host_order << 24);
}
constexpr std::uint32_t raw_be16(std::uint16_t host_order) {
  return static_cast<std::uint32_t>(((host_order >> 8) & 0xffu) | ((host_order & 0xffu) << 8));
}

// The hash of an incoming SYN as seen by a listener: local = the server side (destination of the SYN), remote
// = the client. A listener bound to 0.0.0.0 is found through the INADDR_ANY bucket, where the kernel hashes
// with laddr = 0 rather than the packet's destination, so wildcard_listener discards local_addr. `secret`
// stands for inet_ehash_secret + net_hash_mix(net): random per boot and netns, so a simulation should draw it
// per run.
constexpr std::uint32_t inet_ehashfn(const FourTuple& t, bool wildcard_listener, std::uint32_t secret,
                                     HashFormula formula = HashFormula::kLinux615) {
  const std::uint32_t laddr = wildcard_listener ? 0u : raw_be32(t.local_addr);
  const std::uint32_t faddr = raw_be32(t.remote_addr);
  const std::uint32_t fport = raw_be16(t.remote_port);
  const std::uint32_t lport = t.local_port;
  if (formula == HashFormula::kLinux615) return lport + jhash_3words(laddr, faddr, fport, secret);
  return jhash_3words(laddr, faddr, (lport << 16) | fport, secret);
}

}  // namespace models
