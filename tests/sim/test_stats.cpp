// Tests for sim/stats: each expected figure is derived in a comment (closed form, hand-worked, or table).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

#include "sim/random.hpp"
#include "sim/stats.hpp"
#include "sim/time.hpp"

namespace {

double relative_error(double got, double want) { return std::abs(got - want) / std::abs(want); }

}  // namespace

TEST_CASE("Counter counts, adds in steps and resets", "[stats]") {
  sim::Counter c;
  // Hand-worked: 1 + 1 + 40 = 42; reset returns to 0.
  c.add();
  c.add();
  c.add(40);
  CHECK(c.value() == 42);
  c.reset();
  CHECK(c.value() == 0);
  // 64 bits: 2^40 + 2^40 = 2^41 does not wrap as a 32-bit count would.
  c.add(std::uint64_t{1} << 40);
  c.add(std::uint64_t{1} << 40);
  CHECK(c.value() == (std::uint64_t{1} << 41));
}

TEST_CASE("TimeWeighted mean of a hand-worked step function", "[stats]") {
  // Level 0 on [0, 10), 2 on [10, 20), 2 + 3 = 5 on [20, 40), 1 on [40, 50).
  // Integral = 0*10 + 2*10 + 5*20 + 1*10 = 130, so the mean over [0, 50) is 130 / 50 = 2.6; the maximum is 5.
  sim::TimeWeighted tw(0, 0.0);
  // No time has passed: the mean is defined as the current value, 0.
  CHECK(tw.mean(0) == 0.0);
  tw.set(10, 2.0);
  tw.add(20, 3.0);
  tw.set(40, 1.0);
  CHECK(tw.current() == 1.0);
  CHECK(tw.max() == 5.0);
  CHECK(tw.mean(50) == Approx(2.6).epsilon(1e-15));
  // Part-way, over [0, 30): (0*10 + 2*10 + 5*10) / 30 = 70 / 30 = 7/3.
  sim::TimeWeighted part(0, 0.0);
  part.set(10, 2.0);
  part.add(20, 3.0);
  CHECK(part.mean(30) == Approx(7.0 / 3.0).epsilon(1e-15));
}

TEST_CASE("TimeWeighted starting mid-run with a non-zero level", "[stats]") {
  // Level 4 from t = 100 to 110, then 0 until 140: mean over [100, 140) = 4*10 / 40 = 1; at t = 100 it is 4.
  sim::TimeWeighted tw(100, 4.0);
  CHECK(tw.mean(100) == 4.0);
  CHECK(tw.max() == 4.0);
  tw.set(110, 0.0);
  CHECK(tw.mean(140) == Approx(1.0).epsilon(1e-15));
}

TEST_CASE("TimeWeighted reset discards history but keeps the level", "[stats]") {
  // Before the reset the level went 0 -> 8 -> 1; the 8 must not survive in max() or in the mean.
  sim::TimeWeighted tw(0, 0.0);
  tw.set(10, 8.0);
  tw.set(20, 1.0);
  tw.reset(50);
  // Right after the reset no time has passed, so the mean is the kept level, 1, and the maximum is 1.
  CHECK(tw.current() == 1.0);
  CHECK(tw.mean(50) == 1.0);
  CHECK(tw.max() == 1.0);
  // Level 1 on [50, 60), 3 on [60, 70): mean = (1*10 + 3*10) / 20 = 2; maximum 3.
  CHECK(tw.mean(60) == Approx(1.0).epsilon(1e-15));
  tw.set(60, 3.0);
  CHECK(tw.mean(70) == Approx(2.0).epsilon(1e-15));
  CHECK(tw.max() == 3.0);
}

TEST_CASE("TimeWeighted does not drift over ten million updates", "[stats]") {
  // Alternate 0.1 for 3 ns and 0.7 for 1,000,003 ns, 10^7 periods (about 2.8 simulated hours). Closed form:
  // the mean is (3 * 0.1 + 1000003 * 0.7) / 1000006 whatever the number of periods. A plain double sum of the
  // 2*10^7 terms drifts by about 3e-10 relative here; the compensated long double integral must stay within
  // 1e-14.
  const double low = 0.1;
  const double high = 0.7;
  const long double want =
      (3.0L * static_cast<long double>(low) + 1000003.0L * static_cast<long double>(high)) / 1000006.0L;
  sim::TimeWeighted tw(0, low);
  sim::Time now = 0;
  for (int period = 0; period < 10'000'000; ++period) {
    now += 3;
    tw.set(now, high);
    now += 1'000'003;
    tw.set(now, low);
  }
  CHECK(relative_error(tw.mean(now), static_cast<double>(want)) < 1e-14);
}

TEST_CASE("TimeWeightedCount mean of a hand-worked step function, and its reset", "[stats]") {
  // The same step function as above: 0 on [0, 10), 2 on [10, 20), 5 on [20, 40), 1 on [40, 50). Integral 130, so
  // the mean over [0, 50) is exactly 2.6 (130 / 50 rounded once) and the maximum 5.
  sim::TimeWeightedCount tw(0, 0);
  CHECK(tw.mean(0) == 0.0);
  tw.set(10, 2);
  tw.add(20, 3);
  tw.set(40, 1);
  CHECK(tw.current() == 1);
  CHECK(tw.max() == 5);
  CHECK(tw.mean(50) == 2.6);
  CHECK(tw.integral(50) == 130);
  // Reset at 50 keeps the level 1 (now also the maximum); then 1 on [50, 60) and 3 on [60, 70): mean 40 / 20 = 2.
  tw.reset(50);
  CHECK(tw.mean(50) == 1.0);
  CHECK(tw.max() == 1);
  tw.set(60, 3);
  CHECK(tw.mean(70) == 2.0);
  CHECK(tw.integral(70) == 40);
  CHECK(tw.max() == 3);
}

TEST_CASE("TimeWeightedCount gives TimeWeighted's mean bit for bit on whole levels", "[stats]") {
  // The models moved their whole-valued levels from TimeWeighted to TimeWeightedCount without changing a result:
  // both compute the exact integral (TimeWeighted's long double sum is exact for whole terms below 2^64) and
  // divide it the same way. A random walk of 100,000 changes (levels 0..63, gaps 0..10^6 ns, some at the same
  // instant) and a reset half-way must give identical means at every probe.
  sim::RandomStream rng(7, 0, "test.time_weighted_count");
  sim::TimeWeighted ref(0, 0.0);
  sim::TimeWeightedCount count(0, 0);
  sim::Time now = 0;
  bool identical = true;
  for (int i = 0; i < 100'000; ++i) {
    now += static_cast<sim::Time>(rng.below(4) == 0 ? 0 : rng.below(1'000'000));
    const auto level = static_cast<std::int64_t>(rng.below(64));
    ref.set(now, static_cast<double>(level));
    count.set(now, level);
    if (i == 50'000) {
      ref.reset(now);
      count.reset(now);
    }
    if (i % 97 == 0) identical = identical && ref.mean(now + 5) == count.mean(now + 5);
  }
  CHECK(identical);
  CHECK(ref.max() == static_cast<double>(count.max()));
}

TEST_CASE("TimeWeightedCount stays exact past 2^64 level-nanoseconds", "[stats]") {
  // Level 2^40 for 2^30 ns, then 2^40 + 1 for 2^30 ns: the integral 2^71 + 2^30 needs 42 significant bits above
  // 2^30's, beyond a 64-bit sum's range. Mean = (2^71 + 2^30) / 2^31 = 2^40 + 0.5, which a double holds exactly.
  const std::int64_t big = std::int64_t{1} << 40;
  const sim::Time step = sim::Time{1} << 30;
  sim::TimeWeightedCount tw(0, big);
  tw.set(step, big + 1);
  CHECK(tw.mean(2 * step) == static_cast<double>(big) + 0.5);
}

TEST_CASE("LatencyHistogram bucket layout is contiguous and at most 1/128 wide", "[stats]") {
  using H = sim::LatencyHistogram;
  // By construction: buckets tile [0, 2^63 - 1] without gaps; below 256 each value has its own bucket; above,
  // a bucket's width is 2^shift and its lower bound is at least 128 * 2^shift, so width / lower <= 1/128.
  CHECK(H::bucket_lower(0) == 0);
  CHECK(H::bucket_upper(H::kBucketCount - 1) == std::numeric_limits<std::int64_t>::max());
  bool contiguous = true;
  bool narrow = true;
  for (std::size_t i = 0; i + 1 < H::kBucketCount; ++i) {
    contiguous = contiguous && H::bucket_upper(i) + 1 == H::bucket_lower(i + 1);
    const std::int64_t width = H::bucket_upper(i) - H::bucket_lower(i) + 1;
    narrow = narrow && (i < 256 ? width == 1 : width * 128 <= H::bucket_lower(i));
  }
  CHECK(contiguous);
  CHECK(narrow);
}

TEST_CASE("LatencyHistogram relative error bound from 1 ns to 10^12 ns and beyond", "[stats]") {
  using H = sim::LatencyHistogram;
  // Every value lies in its bucket, and the bucket midpoint (what quantile() reports) is within half a bucket
  // width, that is within 1/256 (0.39%, under the required 1%) of the value. Checked at powers of two and
  // their neighbours up to 2^62, at every decade 1 .. 10^12 times 1..9, and at 100,000 log-uniform random
  // values in [1, 10^12].
  std::vector<std::int64_t> values;
  for (int k = 0; k <= 62; ++k) {
    const std::int64_t p = std::int64_t{1} << k;
    values.insert(values.end(), {p - 1, p, p + 1});
  }
  values.push_back(std::numeric_limits<std::int64_t>::max());
  for (std::int64_t decade = 1; decade <= 1'000'000'000'000; decade *= 10)
    for (std::int64_t m = 1; m <= 9; ++m) values.push_back(m * decade);
  sim::RandomStream rng(7, 0, "histogram-magnitudes");
  for (int i = 0; i < 100'000; ++i)
    values.push_back(static_cast<std::int64_t>(std::exp(rng.uniform() * std::log(1e12))));

  double worst = 0.0;
  bool inside = true;
  for (std::int64_t v : values) {
    const std::size_t i = H::bucket_index(v);
    inside = inside && H::bucket_lower(i) <= v && v <= H::bucket_upper(i);
    const std::int64_t lower = H::bucket_lower(i);
    const std::int64_t midpoint = lower + (H::bucket_upper(i) - lower + 1) / 2;
    if (v > 0) worst = std::max(worst, relative_error(static_cast<double>(midpoint), static_cast<double>(v)));
  }
  CHECK(inside);
  CHECK(worst <= 1.0 / 256.0);
}

TEST_CASE("LatencyHistogram quantiles of uniform 1..1,000,000 within 1% of the order statistic", "[stats]") {
  // Closed form: with each of 1..N recorded once (N = 10^6), the smallest value with at least a fraction q of
  // the samples at or below it is ceil(q * N): 500,000, 900,000, 990,000 and 999,000.
  constexpr std::int64_t n = 1'000'000;
  sim::LatencyHistogram h;
  for (std::int64_t v = 1; v <= n; ++v) h.record(v);
  REQUIRE(h.count() == static_cast<std::uint64_t>(n));
  for (const auto& [q, want] : std::vector<std::pair<double, double>>{
           {0.5, 500'000.0}, {0.9, 900'000.0}, {0.99, 990'000.0}, {0.999, 999'000.0}}) {
    INFO("q = " << q << ", got " << h.quantile(q));
    CHECK(relative_error(static_cast<double>(h.quantile(q)), want) <= 0.01);
  }
  // The extremes are clamped to the exact minimum and maximum: q = 0 gives 1, q = 1 gives 10^6.
  CHECK(h.quantile(0.0) == 1);
  CHECK(h.quantile(1.0) == n);
}

TEST_CASE("LatencyHistogram quantiles of a log-uniform sample over 12 decades", "[stats]") {
  // Reference: the exact order statistic of the same sample, sorted (element ceil(q * N) - 1 counted from 0);
  // the histogram must be within 1% of it at every q (by the bucket bound above, within 0.4%).
  sim::RandomStream rng(11, 0, "histogram-log-uniform");
  std::vector<std::int64_t> sample;
  sim::LatencyHistogram h;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<std::int64_t>(std::exp(rng.uniform() * std::log(1e12)));
    sample.push_back(v);
    h.record(v);
  }
  std::sort(sample.begin(), sample.end());
  double worst = 0.0;
  for (double q : {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sample.size())));
    const double want = static_cast<double>(sample[rank - 1]);
    worst = std::max(worst, relative_error(static_cast<double>(h.quantile(q)), want));
  }
  CHECK(worst <= 0.01);
}

TEST_CASE("LatencyHistogram mean, min and max are exact", "[stats]") {
  // Hand-worked: {3, 5, 1,000,000,007} has sum 1,000,000,015, mean 333,333,338.33..., min 3, max
  // 1,000,000,007; values that share a bucket (1,000,000,007 sits in a 4-million-wide one) must not blur
  // these.
  sim::LatencyHistogram h;
  h.record(3);
  h.record(1'000'000'007);
  h.record(5);
  CHECK(h.count() == 3);
  CHECK(h.min() == 3);
  CHECK(h.max() == 1'000'000'007);
  CHECK(h.mean() == Approx(1'000'000'015.0 / 3.0).epsilon(1e-15));

  // Overflow: four samples of 2^62 sum to 2^64, past int64 and uint64; the mean must still be exactly 2^62.
  sim::LatencyHistogram big;
  big.record_n(std::int64_t{1} << 62, 4);
  CHECK(big.count() == 4);
  CHECK(big.mean() == std::ldexp(1.0, 62));
  CHECK(big.quantile(0.5) == (std::int64_t{1} << 62));

  // Empty: every figure is defined as 0.
  sim::LatencyHistogram empty;
  CHECK(empty.count() == 0);
  CHECK(empty.mean() == 0.0);
  CHECK(empty.min() == 0);
  CHECK(empty.max() == 0);
  CHECK(empty.quantile(0.99) == 0);

  // Zero is a valid latency, and record_n(v, 0) records nothing.
  sim::LatencyHistogram zeros;
  zeros.record_n(0, 5);
  zeros.record_n(123, 0);
  CHECK(zeros.count() == 5);
  CHECK(zeros.max() == 0);
  CHECK(zeros.quantile(1.0) == 0);
}

TEST_CASE("LatencyHistogram merge equals recording everything in one", "[stats]") {
  // By definition of merge: splitting a sample between two histograms (with different ranges, so their bucket
  // arrays have different lengths) and merging must give the same count, sum, extremes and quantiles as one
  // histogram.
  sim::RandomStream rng(3, 0, "histogram-merge");
  sim::LatencyHistogram a, b, all;
  for (int i = 0; i < 50'000; ++i) {
    const auto small = static_cast<std::int64_t>(rng.below(10'000));
    const auto large = static_cast<std::int64_t>(rng.below(1'000'000'000'000)) + 1'000'000;
    a.record(small);
    b.record(large);
    all.record(small);
    all.record(large);
  }
  sim::LatencyHistogram merged_ab = a;
  merged_ab.merge(b);
  sim::LatencyHistogram merged_ba = b;
  merged_ba.merge(a);
  for (const auto* m : {&merged_ab, &merged_ba}) {
    CHECK(m->count() == all.count());
    CHECK(m->mean() == all.mean());
    CHECK(m->min() == all.min());
    CHECK(m->max() == all.max());
    for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0}) CHECK(m->quantile(q) == all.quantile(q));
  }
  // Merging an empty histogram changes nothing; reset empties.
  sim::LatencyHistogram copy = all;
  copy.merge(sim::LatencyHistogram{});
  CHECK(copy.quantile(0.5) == all.quantile(0.5));
  CHECK(copy.min() == all.min());
  copy.reset();
  CHECK(copy.count() == 0);
  CHECK(copy.quantile(0.5) == 0);
  copy.record(42);
  CHECK(copy.min() == 42);
  CHECK(copy.max() == 42);
}

TEST_CASE("student_t_quantile matches published table values", "[stats]") {
  // Published critical values printed to 3 decimals, so the tolerance is half a unit of the last digit. The
  // 0.95, 0.975 and 0.995 columns are in the NIST/SEMATECH e-Handbook of Statistical Methods,
  // section 1.3.6.7.2; the df 1000 row and the 0.9995 column (one-sided 0.05%, two-sided 0.1%) are in the
  // longer textbook tables:
  //   t(0.975; 1) = 12.706, t(0.975; 2) = 4.303, t(0.975; 4) = 2.776, t(0.975; 9) = 2.262, t(0.975; 29)
  //   = 2.045, t(0.975; 1000) = 1.962, t(0.995; 10) = 3.169, t(0.95; 5) = 2.015, t(0.9995; 30) = 3.646,
  //   t(0.9995; 1) = 636.619.
  struct Row {
    double p;
    int df;
    double want;
  };
  for (const Row& row :
       {Row{0.975, 1, 12.706}, Row{0.975, 2, 4.303}, Row{0.975, 4, 2.776}, Row{0.975, 9, 2.262},
        Row{0.975, 29, 2.045}, Row{0.975, 1000, 1.962}, Row{0.995, 10, 3.169}, Row{0.95, 5, 2.015},
        Row{0.9995, 30, 3.646}, Row{0.9995, 1, 636.619}}) {
    INFO("p = " << row.p << ", df = " << row.df);
    CHECK(sim::student_t_quantile(row.p, row.df) == Approx(row.want).margin(0.0005));
  }
}

TEST_CASE("student_t_quantile matches the closed forms for df 1, 2 and 4", "[stats]") {
  // Closed forms of the t quantile: df 1 (Cauchy) t = tan(pi (p - 1/2)); df 2 t = (2p - 1) / sqrt(2 p (1 -
  // p)); df 4 with a = 4 p (1 - p), q = cos(acos(sqrt a) / 3) / sqrt a: t = 2 sqrt(q - 1). Checked to 1e-8
  // relative over p in [0.5, 0.9995], well inside the required 1e-4.
  double worst = 0.0;
  for (int i = 1; i <= 999; ++i) {
    const double p = 0.5 + 0.0005 * i;
    const double a = 4.0 * p * (1.0 - p);
    const double t1 = std::tan(std::numbers::pi * (p - 0.5));
    const double t2 = (2.0 * p - 1.0) / std::sqrt(2.0 * p * (1.0 - p));
    const double t4 = 2.0 * std::sqrt(std::cos(std::acos(std::sqrt(a)) / 3.0) / std::sqrt(a) - 1.0);
    worst = std::max({worst, relative_error(sim::student_t_quantile(p, 1), t1),
                      relative_error(sim::student_t_quantile(p, 2), t2),
                      relative_error(sim::student_t_quantile(p, 4), t4)});
  }
  CHECK(worst < 1e-8);
  // The median of a symmetric distribution is 0.
  CHECK(sim::student_t_quantile(0.5, 7) == 0.0);
}

TEST_CASE("student_t_quantile is symmetric, tends to the normal, and its two methods agree", "[stats]") {
  // Symmetry of the t density: t(1 - p; df) = -t(p; df).
  CHECK(sim::student_t_quantile(0.025, 9) == Approx(-sim::student_t_quantile(0.975, 9)).epsilon(1e-12));
  // As df grows t tends to the standard normal: z(0.975) = 1.959964 and z(0.995) = 2.575829 (published normal
  // table values to 6 decimals). At df = 10^6 the leading correction (z^3 + z) / (4 df) is below 3e-6.
  CHECK(sim::detail::normal_quantile(0.975) == Approx(1.959964).margin(5e-7));
  CHECK(sim::detail::normal_quantile(0.995) == Approx(2.575829).margin(5e-7));
  CHECK(sim::student_t_quantile(0.975, 1'000'000) == Approx(1.959964).margin(5e-6));
  // student_t_quantile switches from the exact series to the Cornish-Fisher expansion above df 1000. The
  // expansion's error shrinks like df^-5, so at df 500 and 1000 the two must agree far inside 1e-4; 1e-9 is
  // asserted.
  double worst = 0.0;
  for (int df : {500, 1000}) {
    for (int i = 1; i <= 999; ++i) {
      const double p = 0.5 + 0.0005 * i;
      worst = std::max(worst, std::abs(sim::detail::student_t_quantile_series(p, df) -
                                       sim::detail::student_t_quantile_expansion(p, df)));
    }
  }
  CHECK(worst < 1e-9);
}

TEST_CASE("Summary of a hand-worked sample", "[stats]") {
  // Sample {2, 4, 4, 4, 5, 5, 7, 9}: mean 40 / 8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sample
  // variance 32 / 7, stddev sqrt(32/7) = 2.138090; s / sqrt(8) = sqrt(4/7) = 2 / sqrt(7). CI half-width =
  // t(0.975; 7) * 2 / sqrt(7) with t(0.975; 7) = 2.365 (published table, 3 decimals): 1.78777, to within
  // 0.0005 * 2 / sqrt(7) = 0.00038 from the table's rounding.
  sim::Summary s;
  for (double x : {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0}) s.add(x);
  CHECK(s.count() == 8);
  CHECK(s.mean() == Approx(5.0).epsilon(1e-15));
  CHECK(s.stddev() == Approx(std::sqrt(32.0 / 7.0)).epsilon(1e-14));
  CHECK(s.min() == 2.0);
  CHECK(s.max() == 9.0);
  CHECK(s.ci95() == Approx(2.365 * 2.0 / std::sqrt(7.0)).margin(0.0004));

  // Fewer than two samples: no spread can be estimated, so stddev and ci95 are defined as 0.
  sim::Summary one;
  one.add(3.5);
  CHECK(one.mean() == 3.5);
  CHECK(one.stddev() == 0.0);
  CHECK(one.ci95() == 0.0);
  sim::Summary none;
  CHECK(none.count() == 0);
  CHECK(none.ci95() == 0.0);
}

TEST_CASE("Summary stays accurate when the mean dwarfs the spread", "[stats]") {
  // {10^9 + 4, 10^9 + 7, 10^9 + 13, 10^9 + 16}: the offsets {4, 7, 13, 16} have mean 10 and squared
  // deviations 36 + 9 + 9 + 36 = 90, so the sample variance is 90 / 3 = 30 whatever the offset. The naive
  // sum-of-squares formula would cancel catastrophically at 10^18; Welford's update must not.
  sim::Summary s;
  for (double d : {4.0, 7.0, 13.0, 16.0}) s.add(1e9 + d);
  CHECK(s.mean() == Approx(1e9 + 10.0).epsilon(1e-15));
  CHECK(s.stddev() == Approx(std::sqrt(30.0)).epsilon(1e-9));
}

TEST_CASE("Summary 95% CI covers the true mean of normal samples about 95% of the time", "[stats]") {
  // For normal data the Student t interval is exact, so over 2000 independent trials the count covering the
  // true mean is Binomial(2000, 0.95): 1900 expected, standard deviation sqrt(2000 * 0.95 * 0.05) = 9.7. The
  // accepted band 93%..97% (1860..1940) is about 4 standard deviations either side. Samples of 5 make the t
  // correction matter: z = 1.96 in place of t(0.975; 4) = 2.776 would cover only about 88%.
  constexpr double true_mean = 3.0;
  constexpr double sigma = 2.0;
  sim::RandomStream rng(2024, 0, "ci-coverage");
  int covered = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    sim::Summary s;
    for (int i = 0; i < 5; ++i) s.add(true_mean + sigma * rng.normal());
    if (std::abs(s.mean() - true_mean) <= s.ci95()) ++covered;
  }
  const double coverage = covered / 2000.0;
  INFO("coverage = " << coverage);
  CHECK(coverage >= 0.93);
  CHECK(coverage <= 0.97);
}

TEST_CASE("jain_index and max_over_mean on hand-worked cases", "[stats]") {
  // All equal {5, 5, 5, 5}: (20)^2 / (4 * 100) = 1; max / mean = 5 / 5 = 1.
  const std::vector<double> equal{5, 5, 5, 5};
  CHECK(sim::jain_index(equal) == Approx(1.0).epsilon(1e-15));
  CHECK(sim::max_over_mean(equal) == Approx(1.0).epsilon(1e-15));
  // One takes all {0, 0, 7, 0}: 49 / (4 * 49) = 1/4 = 1/n; max / mean = 7 / (7/4) = 4 = n.
  const std::vector<double> one_takes_all{0, 0, 7, 0};
  CHECK(sim::jain_index(one_takes_all) == Approx(0.25).epsilon(1e-15));
  CHECK(sim::max_over_mean(one_takes_all) == Approx(4.0).epsilon(1e-15));
  // {1, 2, 3}: 36 / (3 * 14) = 6/7; max / mean = 3 / 2 = 1.5.
  const std::vector<double> ramp{1, 2, 3};
  CHECK(sim::jain_index(ramp) == Approx(6.0 / 7.0).epsilon(1e-15));
  CHECK(sim::max_over_mean(ramp) == Approx(1.5).epsilon(1e-15));
  // Defined cases: all-zero and empty sets are not imbalanced, so both figures are 1.
  const std::vector<double> zeros{0, 0, 0};
  CHECK(sim::jain_index(zeros) == 1.0);
  CHECK(sim::max_over_mean(zeros) == 1.0);
  CHECK(sim::jain_index({}) == 1.0);
  CHECK(sim::max_over_mean({}) == 1.0);
}
