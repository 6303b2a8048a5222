// Run statistics: counters, time-weighted levels, latency histograms, confidence intervals of replications.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "sim/assert.hpp"
#include "sim/time.hpp"

namespace sim {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_ += n; }
  std::uint64_t value() const { return value_; }
  void reset() { value_ = 0; }

 private:
  std::uint64_t value_ = 0;
};

// A level that changes at discrete instants (busy cores, queue length, open connections), averaged over time.
// The integral of value times integer nanoseconds is kept in long double (a 64-bit mantissa on x86-64) with
// Neumaier's compensation, so its error does not grow with the number of updates: a run of 10^7 updates
// agrees with the exact integral to about 1e-16, where a plain double sum drifts by about 1e-10.
class TimeWeighted {
 public:
  explicit TimeWeighted(Time start = 0, double initial = 0.0)
      : value_(initial), max_(initial), last_change_(start), since_(start) {}

  void set(Time now, double value) {
    advance(now);
    value_ = value;
    if (value_ > max_) max_ = value_;
  }
  void add(Time now, double delta) { set(now, value_ + delta); }

  // The average since the last reset; the current value if no time has passed, since that is the limit of the
  // average over a vanishing interval.
  double mean(Time now) const {
    RPSIM_ASSERT(now >= last_change_, "TimeWeighted::mean: time went backwards");
    if (now == since_) return value_;
    const long double pending =
        static_cast<long double>(value_) * static_cast<long double>(now - last_change_);
    return static_cast<double>((area_ + (carry_ + pending)) / static_cast<long double>(now - since_));
  }
  double max() const { return max_; }
  double current() const { return value_; }

  // Discards the history (warm-up) but not the state: the level carries over and becomes the new maximum.
  void reset(Time now) {
    advance(now);
    area_ = 0.0L;
    carry_ = 0.0L;
    since_ = now;
    max_ = value_;
  }

 private:
  void advance(Time now) {
    RPSIM_ASSERT(now >= last_change_, "TimeWeighted: time went backwards");
    const long double term = static_cast<long double>(value_) * static_cast<long double>(now - last_change_);
    const long double sum = area_ + term;
    // The low-order bits the addition dropped, recovered exactly from whichever operand is larger.
    carry_ += std::abs(area_) >= std::abs(term) ? (area_ - sum) + term : (term - sum) + area_;
    area_ = sum;
    last_change_ = now;
  }

  double value_;
  double max_;
  long double area_ = 0.0L;
  long double carry_ = 0.0L;
  Time last_change_;
  Time since_;
};

// A level that only takes whole values (busy or idle, connections, servers), averaged over time. Its integral is
// a whole number of level-nanoseconds, so it is kept exactly in 128 bits: an update is one multiply and one add
// (TimeWeighted spends a few dozen x87 instructions on its compensated sum), and the mean is the exact quotient,
// divided in long double and rounded to double as TimeWeighted does. For whole levels the two give the same mean
// bit for bit while the integral stays below 2^64 (long double holds such sums exactly); beyond, this one stays
// exact.
class TimeWeightedCount {
 public:
  __extension__ typedef __int128 Int128;
  explicit TimeWeightedCount(Time start = 0, std::int64_t initial = 0)
      : value_(initial), max_(initial), last_change_(start), since_(start) {}

  void set(Time now, std::int64_t value) {
    RPSIM_ASSERT(now >= last_change_, "TimeWeightedCount: time went backwards");
    area_ += static_cast<Int128>(value_) * (now - last_change_);
    last_change_ = now;
    value_ = value;
    if (value_ > max_) max_ = value_;
  }
  void add(Time now, std::int64_t delta) { set(now, value_ + delta); }

  // The average since the last reset; the current value if no time has passed.
  double mean(Time now) const {
    RPSIM_ASSERT(now >= last_change_, "TimeWeightedCount::mean: time went backwards");
    if (now == since_) return static_cast<double>(value_);
    return static_cast<double>(static_cast<long double>(integral(now)) / static_cast<long double>(now - since_));
  }
  // The level integrated over time since the last reset (level x ns), exactly.
  Int128 integral(Time now) const {
    RPSIM_ASSERT(now >= last_change_, "TimeWeightedCount: time went backwards");
    return area_ + static_cast<Int128>(value_) * (now - last_change_);
  }
  std::int64_t max() const { return max_; }
  std::int64_t current() const { return value_; }

  // Discards the history (warm-up) but not the state: the level carries over and becomes the new maximum.
  void reset(Time now) {
    set(now, value_);
    area_ = 0;
    since_ = now;
    max_ = value_;
  }

 private:
  std::int64_t value_;
  std::int64_t max_;
  Int128 area_ = 0;
  Time last_change_;
  Time since_;
};

// Log-bucketed histogram of non-negative int64 values (nanoseconds), laid out as HdrHistogram does: values
// below 256 have a bucket each; above, every power-of-two range [2^k, 2^(k+1)) is split into 128 equal
// sub-buckets, so a bucket is at most 1/128 of its lower bound wide and a quantile reported at the bucket's
// midpoint is within 1/256 (0.4%) of the exact sample. Counts grow lazily up to the highest bucket seen, 7296
// for the full int64 range.
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;
  // Shifts 0 to 55 (a value has at most 63 significant bits, 8 of which are kept), each adding 128 buckets,
  // after the first 128 that only shift 0 reaches.
  static constexpr std::size_t kBucketCount = (64 - kSubBucketBits) * kSubBuckets;

  // Index of the bucket holding v (v >= 0). Bit operations only: shift is how far v must be shifted right to
  // leave 8 significant bits (0 for v < 256, which is then its own bucket), and each shift level adds 128
  // buckets.
  static constexpr std::size_t bucket_index(std::int64_t v) {
    const auto u = static_cast<std::uint64_t>(v);
    const int width = std::bit_width(u);
    const int shift = width > kSubBucketBits + 1 ? width - (kSubBucketBits + 1) : 0;
    return (static_cast<std::size_t>(shift) << kSubBucketBits) + static_cast<std::size_t>(u >> shift);
  }
  static constexpr std::int64_t bucket_lower(std::size_t i) {
    const std::size_t level = i >> kSubBucketBits;
    const int shift = level > 1 ? static_cast<int>(level - 1) : 0;
    const std::uint64_t top = i - (static_cast<std::size_t>(shift) << kSubBucketBits);
    return static_cast<std::int64_t>(top << shift);
  }
  // Inclusive: buckets tile the int64 range without gaps.
  static constexpr std::int64_t bucket_upper(std::size_t i) {
    const std::size_t level = i >> kSubBucketBits;
    const int shift = level > 1 ? static_cast<int>(level - 1) : 0;
    return bucket_lower(i) + static_cast<std::int64_t>((std::uint64_t{1} << shift) - 1);
  }

  void record(std::int64_t v) { record_n(v, 1); }
  // Inline without a call: the first value in a new highest bucket takes the out-of-line path, which grows the
  // counts and records it.
  void record_n(std::int64_t v, std::uint64_t n) {
    RPSIM_ASSERT(v >= 0, "LatencyHistogram::record: negative value");
    if (n == 0) return;
    const std::size_t i = bucket_index(v);
    if (i >= counts_.size()) [[unlikely]] {
      record_growing(v, n);
      return;
    }
    counts_[i] += n;
    count_ += n;
    sum_ += static_cast<Uint128>(static_cast<std::uint64_t>(v)) * n;
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }

  std::uint64_t count() const { return count_; }
  // Exact up to the final division (the sum is kept in 128 bits); 0 when empty.
  double mean() const;
  // Exact; 0 when empty.
  std::int64_t min() const { return count_ == 0 ? 0 : min_; }
  std::int64_t max() const { return count_ == 0 ? 0 : max_; }
  // The smallest bucket midpoint m such that at least a fraction q (0 <= q <= 1) of the samples lie in
  // buckets up to m's, clamped to [min, max] so q = 0 and q = 1 give the exact extremes; 0 when empty.
  std::int64_t quantile(double q) const;

  void merge(const LatencyHistogram& other);
  void reset();

 private:
  void record_growing(std::int64_t v, std::uint64_t n);

  __extension__ typedef unsigned __int128 Uint128;

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  Uint128 sum_ = 0;
  std::int64_t min_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_ = 0;
};

static_assert(LatencyHistogram::bucket_index(std::numeric_limits<std::int64_t>::max()) + 1 ==
              LatencyHistogram::kBucketCount);
static_assert(LatencyHistogram::bucket_upper(LatencyHistogram::kBucketCount - 1) ==
              std::numeric_limits<std::int64_t>::max());

// Quantile of Student's t distribution with df >= 1 degrees of freedom, for 0 < p < 1 (accurate to about
// 1e-9; the cost grows with df up to 1000 and is constant above).
double student_t_quantile(double p, int df);

namespace detail {
// The two methods behind student_t_quantile, exposed so tests can check they agree where it switches between
// them. Exact: solves A(theta) = 2p - 1 for the finite trigonometric series of the t CDF (Abramowitz and
// Stegun 26.7.3-4).
double student_t_quantile_series(double p, int df);
// Asymptotic: the Cornish-Fisher expansion in powers of 1/df around the normal quantile (Abramowitz and
// Stegun 26.7.5), four terms.
double student_t_quantile_expansion(double p, int df);
// Quantile of the standard normal distribution, by Newton's method on std::erfc.
double normal_quantile(double p);
}  // namespace detail

// Mean and spread of one figure across independent replications, with the Student t confidence interval of
// the mean. Welford's update keeps the variance accurate when the mean is large compared with the spread.
class Summary {
 public:
  void add(double x);
  std::uint64_t count() const { return n_; }
  // 0 when empty.
  double mean() const { return mean_; }
  // Sample standard deviation (divisor n - 1); 0 when n < 2.
  double stddev() const;
  // Half-width of the 95% confidence interval of the mean, t(0.975, n - 1) * s / sqrt(n); 0 when n < 2.
  double ci95() const;
  // 0 when empty.
  double min() const { return n_ == 0 ? 0.0 : min_; }
  double max() const { return n_ == 0 ? 0.0 : max_; }

 private:
  std::uint64_t n_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;
  double min_ = 0.0;
  double max_ = 0.0;
};

// Jain's fairness index (sum x)^2 / (n sum x^2): 1 when all shares are equal, 1/n when one takes everything;
// 1 for an empty or all-zero set, which is not imbalanced.
double jain_index(std::span<const double> xs);
// Largest share over the mean share: 1 when balanced, n when one takes everything; 1 for an empty or all-zero
// set.
double max_over_mean(std::span<const double> xs);

}  // namespace sim
