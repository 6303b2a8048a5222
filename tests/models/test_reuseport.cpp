// Tests of ReuseportGroup: array order on listen/close/relisten, hash choice, SO_INCOMING_CPU, migration.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "models/ephemeral_ports.hpp"
#include "models/jhash.hpp"
#include "models/reuseport.hpp"
#include "sim/random.hpp"

using models::ReuseportGroup;

namespace {

enum : int { A = 0, B = 1, C = 2, D = 3, E = 4 };

std::vector<int> members_of(const ReuseportGroup& g) { return {g.members().begin(), g.members().end()}; }

ReuseportGroup group_of(std::initializer_list<int> ids) {
  ReuseportGroup g;
  for (int id : ids) g.listen(id);
  return g;
}

// Hashes that hit each index of a 4-member group: index k owns [k * 2^30, (k + 1) * 2^30).
constexpr std::array<std::uint32_t, 4> kHashForIndexOf4{0x00000000u, 0x40000000u, 0x80000000u, 0xc0000000u};

}  // namespace

TEST_CASE("reuseport: listen() order is the array order", "[reuseport]") {
  // Expected (doc 1.5, __reuseport_add_sock): each listen() appends, so [A, B, C, D].
  const ReuseportGroup g = group_of({A, B, C, D});
  REQUIRE(members_of(g) == std::vector<int>{A, B, C, D});
  REQUIRE(g.size() == 4);
  REQUIRE(g.is_member(C));
  REQUIRE_FALSE(g.is_member(E));
}

TEST_CASE("reuseport: select_by_hash indexes with reciprocal_scale", "[reuseport]") {
  ReuseportGroup g = group_of({A, B, C, D});
  // Expected (doc 1.3/1.4): socks[(hash * 4) >> 32]; the four quarter boundaries hit A, B, C, D in turn.
  for (int k = 0; k < 4; ++k) REQUIRE(g.select_by_hash(kHashForIndexOf4[k]) == k);
  REQUIRE(g.select_by_hash(0x3fffffffu) == A);
  REQUIRE(g.select_by_hash(0xffffffffu) == D);
  // Expected (doc 1.2 row 1): hash 0x679b2bc0 is index 1 of 4, i.e. B here.
  REQUIRE(g.select_by_hash(0x679b2bc0u) == B);
}

TEST_CASE("reuseport: an empty group selects nothing", "[reuseport]") {
  // Expected: no listener, no choice (the SYN would be answered with a RST).
  ReuseportGroup g;
  REQUIRE(g.empty());
  REQUIRE_FALSE(g.select_by_hash(0x12345678u).has_value());
  REQUIRE_FALSE(g.select_migration_target(0x12345678u).has_value());
  const std::vector<int> cpus;
  REQUIRE_FALSE(g.select_incoming_cpu(0x12345678u, 0, cpus).has_value());
  g.listen(A);
  g.close(A, false);
  REQUIRE_FALSE(g.select_by_hash(0).has_value());
}

TEST_CASE("reuseport: close swaps the last member into the hole", "[reuseport]") {
  SECTION("[A, B, C, D] close B -> [A, D, C]") {
    // Expected (doc 1.5, __reuseport_detach_sock; confirmed on this machine per the research README).
    ReuseportGroup g = group_of({A, B, C, D});
    g.close(B, false);
    REQUIRE(members_of(g) == std::vector<int>{A, D, C});
    REQUIRE(g.closed_members().empty());
  }
  SECTION("closing the last member just shortens the array") {
    // Expected: [A, B, C, D] close D -> [A, B, C] (the last member moves onto itself).
    ReuseportGroup g = group_of({A, B, C, D});
    g.close(D, false);
    REQUIRE(members_of(g) == std::vector<int>{A, B, C});
  }
  SECTION("the group then routes every hash like a fresh group [A, D, C]") {
    // Expected (research README: 200 of 200 tuples on a 6.18 kernel): routing after the close is exactly the
    // routing of a group built by listen(A), listen(D), listen(C).
    ReuseportGroup g = group_of({A, B, C, D});
    g.close(B, false);
    const ReuseportGroup fresh = group_of({A, D, C});
    sim::RandomStream rng(3, 0, "test_reuseport_close_routing");
    for (int n = 0; n < 20000; ++n) {
      const std::uint32_t h = rng.next_u32();
      REQUIRE(g.select_by_hash(h) == fresh.select_by_hash(h));
    }
  }
}

TEST_CASE("reuseport: migration parks the closed socket where it is never selected", "[reuseport]") {
  // Expected (doc 1.5, 3.2): with tcp_migrate_req the swap still happens; B goes to the closed section and no
  // hash, SO_INCOMING_CPU match or migration can pick it.
  ReuseportGroup g = group_of({A, B, C, D});
  g.close(B, true);
  REQUIRE(members_of(g) == std::vector<int>{A, D, C});
  REQUIRE(g.is_parked(B));
  REQUIRE_FALSE(g.is_member(B));
  const std::vector<int> cpu_of{0, 1, 2, 3};  // B alone is bound to CPU 1
  sim::RandomStream rng(5, 0, "test_reuseport_parked");
  for (int n = 0; n < 20000; ++n) {
    const std::uint32_t h = rng.next_u32();
    REQUIRE(g.select_by_hash(h) != B);
    REQUIRE(g.select_migration_target(h) != B);
    REQUIRE(g.select_incoming_cpu(h, 1, cpu_of) != B);
  }
}

TEST_CASE("reuseport: re-listen appends at the end", "[reuseport]") {
  SECTION("a parked socket is resurrected at the tail, not in its old slot") {
    // Expected (doc 1.5, reuseport_resurrect): [A, B, C, D] close B (migrate) -> [A, D, C]; relisten B ->
    // [A, D, C, B].
    ReuseportGroup g = group_of({A, B, C, D});
    g.close(B, true);
    g.relisten(B);
    REQUIRE(members_of(g) == std::vector<int>{A, D, C, B});
    REQUIRE(g.closed_members().empty());
  }
  SECTION("a detached socket listening again is a plain append") {
    // Expected (doc 1.5): without migration B left the group; listen() adds it like any newcomer.
    ReuseportGroup g = group_of({A, B, C, D});
    g.close(B, false);
    g.listen(B);
    REQUIRE(members_of(g) == std::vector<int>{A, D, C, B});
  }
  SECTION("release drops a parked socket for good") {
    // Expected: after the final close, B is neither live nor parked and may listen() afresh.
    ReuseportGroup g = group_of({A, B});
    g.close(B, true);
    g.release(B);
    REQUIRE_FALSE(g.is_parked(B));
    REQUIRE(members_of(g) == std::vector<int>{A});
    g.listen(B);
    REQUIRE(members_of(g) == std::vector<int>{A, B});
  }
}

TEST_CASE("reuseport: migration target is a hash over the remaining live listeners", "[reuseport]") {
  // Expected (doc 3.2, reuseport_migrate_sock): after closing B of [A, B, C, D] the child's hash indexes [A,
  // D, C]; e.g. hash 0x60000000 -> (0x60000000 * 3) >> 32 = 1 -> D. Closing the last listener leaves no
  // target.
  ReuseportGroup g = group_of({A, B, C, D});
  g.close(B, true);
  REQUIRE(g.select_migration_target(0x60000000u) == D);
  REQUIRE(g.select_migration_target(0x00000000u) == A);
  REQUIRE(g.select_migration_target(0xffffffffu) == C);
  g.close(A, true);
  g.close(D, true);
  g.close(C, true);
  REQUIRE_FALSE(g.select_migration_target(0x60000000u).has_value());
}

TEST_CASE("reuseport: SO_INCOMING_CPU scan (kernel >= 6.2)", "[reuseport]") {
  ReuseportGroup g = group_of({A, B, C, D});
  SECTION("the member bound to the current CPU wins wherever the hash points") {
    // Expected (doc 1.4/1.6, and selftest so_incoming_cpu.c): listener i has SO_INCOMING_CPU = i, so a SYN
    // handled on CPU c goes to the listener with cpu c, for every hash.
    const std::vector<int> cpu_of{0, 1, 2, 3};
    for (std::uint32_t h : kHashForIndexOf4) {
      for (int cpu = 0; cpu < 4; ++cpu) REQUIRE(g.select_incoming_cpu(h, cpu, cpu_of) == cpu);
    }
  }
  SECTION("the scan starts at the hash index and wraps") {
    // Expected (doc 1.4 loop): B and D both on CPU 5. A hash at index 2 (C) scans C, D -> D; a hash at index
    // 0 scans A, B -> B; a hash at index 3 scans D first -> D. With the hash at C and only B on CPU 5, it
    // wraps D, A, B -> B.
    const std::vector<int> cpu_of{-1, 5, -1, 5};
    REQUIRE(g.select_incoming_cpu(kHashForIndexOf4[2], 5, cpu_of) == D);
    REQUIRE(g.select_incoming_cpu(kHashForIndexOf4[0], 5, cpu_of) == B);
    REQUIRE(g.select_incoming_cpu(kHashForIndexOf4[3], 5, cpu_of) == D);
    const std::vector<int> only_b{-1, 5, -1, -1};
    REQUIRE(g.select_incoming_cpu(kHashForIndexOf4[2], 5, only_b) == B);
  }
  SECTION("no match falls back to the hash-chosen member") {
    // Expected (doc 1.4, first_valid_sk): with nobody on CPU 7 the answer is socks[reciprocal_scale(hash,
    // 4)]; with SO_INCOMING_CPU unset everywhere (-1) the result equals select_by_hash for every hash.
    const std::vector<int> cpu_of{0, 1, 2, 3};
    const std::vector<int> unset{-1, -1, -1, -1};
    sim::RandomStream rng(9, 0, "test_reuseport_incoming_cpu");
    for (int n = 0; n < 5000; ++n) {
      const std::uint32_t h = rng.next_u32();
      REQUIRE(g.select_incoming_cpu(h, 7, cpu_of) == g.select_by_hash(h));
      REQUIRE(g.select_incoming_cpu(h, 0, unset) == g.select_by_hash(h));
    }
  }
  SECTION("a callable gives the same answers as a table") {
    // Expected: the two ways of supplying incoming cpus are interchangeable.
    const std::vector<int> cpu_of{-1, 5, -1, 5};
    const auto lookup = [&cpu_of](int id) { return cpu_of[static_cast<std::size_t>(id)]; };
    for (std::uint32_t h : kHashForIndexOf4)
      REQUIRE(g.select_incoming_cpu(h, 5, lookup) == g.select_incoming_cpu(h, 5, cpu_of));
  }
  SECTION("after a close the scan follows the new array order") {
    // Expected: [A, B, C, D] close A -> [D, B, C]; with D on CPU 3 and a hash at index 0, D matches at once.
    const std::vector<int> cpu_of{-1, -1, -1, 3};
    g.close(A, false);
    REQUIRE(members_of(g) == std::vector<int>{D, B, C});
    REQUIRE(g.select_incoming_cpu(0u, 3, cpu_of) == D);
    REQUIRE(g.select_incoming_cpu(0xffffffffu, 3, cpu_of) == D);  // starts at C, wraps to D
  }
}

TEST_CASE("reuseport: 8 client connections over 2 listeners split like Binomial(8, 1/2)", "[reuseport]") {
  // Expected (doc 1.8: per-worker counts are Multinomial(M, 1/N) for a good hash; research README measured
  // 400 trials of 8 connections over 2 listeners on a real kernel and matched Binomial(8, 1/2)): the count on
  // listener 0 over many trials fits C(8, k) / 256. A chi-square over k = 0..8 (8 degrees of freedom) stays
  // below 26.12, the 0.1% critical value; the seeds are fixed, so the outcome is reproducible.
  constexpr int kTrials = 4000;
  const auto binomial_pmf = [](int k) {
    static constexpr std::array<double, 9> kChoose{1, 8, 28, 56, 70, 56, 28, 8, 1};
    return kChoose[static_cast<std::size_t>(k)] / 256.0;
  };
  const auto chi_square = [&](const std::array<int, 9>& counts) {
    double chi2 = 0;
    for (int k = 0; k <= 8; ++k) {
      const double expected = kTrials * binomial_pmf(k);
      const double d = counts[static_cast<std::size_t>(k)] - expected;
      chi2 += d * d / expected;
    }
    return chi2;
  };
  const std::uint32_t server = models::ipv4(10, 0, 0, 1);
  const std::uint32_t client = models::ipv4(10, 0, 0, 2);
  ReuseportGroup g = group_of({A, B});

  SECTION("uniformly random client ports, a fresh secret per trial") {
    sim::RandomStream rng(21, 0, "test_reuseport_binomial_random");
    std::array<int, 9> counts{};
    for (int trial = 0; trial < kTrials; ++trial) {
      const std::uint32_t secret = rng.next_u32();
      int on_a = 0;
      for (int c = 0; c < 8; ++c) {
        const models::FourTuple t{server, 6432, client, static_cast<std::uint16_t>(32768 + rng.below(28232))};
        if (g.select_by_hash(models::inet_ehashfn(t, true, secret)) == A) ++on_a;
      }
      ++counts[static_cast<std::size_t>(on_a)];
    }
    REQUIRE(chi_square(counts) < 26.12);
  }
  SECTION("near-sequential ports from the client kernel, one secret for the whole run") {
    // Doc 4 ("simulator consequence"): successive ports differ by small even gaps, and jhash mixes fport
    // fully, so even these correlated ports must land like independent coin flips.
    sim::RandomStream rng(22, 0, "test_reuseport_binomial_ephemeral");
    models::EphemeralPorts ports(rng);
    const std::uint32_t secret = rng.next_u32();
    std::array<int, 9> counts{};
    sim::Time now = 0;
    for (int trial = 0; trial < kTrials; ++trial) {
      std::array<std::uint16_t, 8> used{};
      int on_a = 0;
      for (auto& port : used) {
        const auto p = ports.connect(client, server, 6432, now);
        REQUIRE(p.has_value());
        port = *p;
        if (g.select_by_hash(models::inet_ehashfn({server, 6432, client, port}, true, secret)) == A) ++on_a;
      }
      for (std::uint16_t port : used) ports.close(client, server, 6432, port, now);
      ++counts[static_cast<std::size_t>(on_a)];
      now += sim::seconds(1);
    }
    REQUIRE(chi_square(counts) < 26.12);
  }
}
