// Tests of the duration distributions and random streams: moments, fitted parameters, stream independence.
#include <catch2/catch.hpp>

#include <cmath>

#include "sim/distribution.hpp"

namespace {
double sample_mean(const sim::Distribution& d, int n, std::uint64_t seed = 1) {
  sim::RandomStream rng(seed, 0, "test");
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(d.sample(rng));
  return sum / n;
}
}  // namespace

TEST_CASE("sample means converge to the stated means", "[random]") {
  // Expected: each sample mean within 1% of the distribution's mean (n = 200k: standard error <= 0.3% for cv <= 1.3).
  const std::vector<sim::Distribution> ds{
      sim::Distribution::constant(1000), sim::Distribution::exponential(200'000),
      sim::Distribution::uniform(100, 900), sim::Distribution::lognormal_cv(2'000'000, 1.0),
      sim::Distribution::empirical({1000, 3000}, {3, 1})};
  for (const auto& d : ds) {
    REQUIRE(sample_mean(d, 200000) == Approx(d.mean()).epsilon(0.01));
  }
  // Hand-worked: empirical {1000 w3, 3000 w1} has mean (3*1000 + 3000)/4 = 1500.
  REQUIRE(ds[4].mean() == Approx(1500));
}

TEST_CASE("lognormal fitted by its p99 has that p99", "[random]") {
  // Expected: the 99th percentile of 200k samples within 3% of 10ms, mean within 1% of 2ms.
  auto d = sim::Distribution::lognormal_p99(2'000'000, 10'000'000);
  REQUIRE(d.has_value());
  sim::RandomStream rng(7, 0, "p99");
  std::vector<sim::Time> xs(200000);
  for (auto& x : xs) x = d->sample(rng);
  std::sort(xs.begin(), xs.end());
  REQUIRE(static_cast<double>(xs[198000]) == Approx(10'000'000).epsilon(0.03));
  REQUIRE(d->mean() == Approx(2'000'000).epsilon(1e-9));
  // No lognormal has p99 below its mean, or p99/mean above exp(z^2/2) ~ 14.9.
  REQUIRE_FALSE(sim::Distribution::lognormal_p99(2'000'000, 1'000'000).has_value());
  REQUIRE_FALSE(sim::Distribution::lognormal_p99(1'000, 20'000).has_value());
}

TEST_CASE("streams are reproducible and independent by name and replication", "[random]") {
  sim::RandomStream a(42, 0, "clients"), b(42, 0, "clients"), c(42, 0, "pooler"), d(42, 1, "clients");
  bool same_ab = true, same_ac = true, same_ad = true;
  for (int i = 0; i < 100; ++i) {
    auto x = a.next_u64(), y = b.next_u64(), z = c.next_u64(), w = d.next_u64();
    same_ab &= x == y;
    same_ac &= x == z;
    same_ad &= x == w;
  }
  REQUIRE(same_ab);
  REQUIRE_FALSE(same_ac);
  REQUIRE_FALSE(same_ad);
}

TEST_CASE("below() is unbiased over a small range", "[random]") {
  // Expected: each of 3 values about 1/3 of 300k draws; chi-square with 2 dof below 13.8 (p = 0.001).
  sim::RandomStream rng(1, 0, "below");
  double counts[3] = {0, 0, 0};
  for (int i = 0; i < 300000; ++i) counts[rng.below(3)] += 1;
  double chi = 0;
  for (double c : counts) chi += (c - 100000) * (c - 100000) / 100000;
  REQUIRE(chi < 13.8);
}

TEST_CASE("scaled keeps the shape and multiplies the mean", "[random]") {
  auto d = sim::Distribution::lognormal_cv(1'000'000, 0.5).scaled(3.0);
  REQUIRE(d.mean() == Approx(3'000'000).epsilon(1e-9));
  REQUIRE(sim::Distribution::exponential(10).scaled(2).mean() == Approx(20));
}
