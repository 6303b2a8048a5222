// Out-of-line parts of the run statistics: histogram queries, Student t quantiles, replication summaries.
#include "sim/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "sim/assert.hpp"

namespace sim {

double LatencyHistogram::mean() const {
  if (count_ == 0) return 0.0;
  return static_cast<double>(static_cast<long double>(sum_) / static_cast<long double>(count_));
}

std::int64_t LatencyHistogram::quantile(double q) const {
  RPSIM_ASSERT(q >= 0.0 && q <= 1.0, "LatencyHistogram::quantile: q outside [0, 1]");
  if (count_ == 0) return 0;
  // The rank (1-based) of the sample the quantile names; long double keeps it exact for counts up to 2^64.
  auto rank =
      static_cast<std::uint64_t>(std::ceil(static_cast<long double>(q) * static_cast<long double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::int64_t lower = bucket_lower(i);
      const std::int64_t width = bucket_upper(i) - lower + 1;
      return std::clamp(lower + width / 2, min_, max_);
    }
  }
  RPSIM_ASSERT(false, "LatencyHistogram::quantile: bucket counts do not add up to count");
  return max_;
}

void LatencyHistogram::record_growing(std::int64_t v, std::uint64_t n) {
  counts_.resize(bucket_index(v) + 1, 0);
  record_n(v, n);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (counts_.size() < other.counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (std::size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() {
  counts_.clear();
  count_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<std::int64_t>::max();
  max_ = 0;
}

namespace {

// Above this many degrees of freedom the expansion's first omitted term is below 1e-12 and the series would
// cost df / 2 terms per evaluation for nothing.
constexpr int kSeriesMaxDf = 1000;

// Substituting t = sqrt(df) tan(theta) turns the t density into cos^(df-1)(theta) on (-pi/2, pi/2), so
// A(theta) = P(|T| <= t) is a finite sum of powers of cos(theta) (A&S 26.7.3 for odd df, 26.7.4 for even df).
double two_sided_cdf(double theta, int df) {
  const double c = std::cos(theta);
  const double s = std::sin(theta);
  const double c2 = c * c;
  if (df % 2 == 1) {
    // theta + s (c + (2/3) c^3 + (2*4)/(3*5) c^5 + ... + c^(df-2) term), times 2/pi.
    double sum = 0.0;
    double term = c;
    for (int k = 1; 2 * k + 1 <= df; ++k) {
      sum += term;
      term *= c2 * (2.0 * k) / (2.0 * k + 1.0);
    }
    return 2.0 / std::numbers::pi * (theta + s * sum);
  }
  // s (1 + (1/2) c^2 + (1*3)/(2*4) c^4 + ... + c^(df-2) term).
  double sum = 0.0;
  double term = 1.0;
  for (int k = 1; 2 * k <= df; ++k) {
    sum += term;
    term *= c2 * (2.0 * k - 1.0) / (2.0 * k);
  }
  return s * sum;
}

// W(n) = integral of cos^n over [0, pi/2], the normalising constant of the density in theta (Wallis'
// recurrence).
double wallis_integral(int n) {
  double w = (n % 2 == 0) ? std::numbers::pi / 2.0 : 1.0;
  for (int k = (n % 2 == 0) ? 2 : 3; k <= n; k += 2) w *= (k - 1.0) / k;
  return w;
}

}  // namespace

namespace detail {

double student_t_quantile_series(double p, int df) {
  RPSIM_ASSERT(p > 0.0 && p < 1.0, "student_t_quantile: p outside (0, 1)");
  RPSIM_ASSERT(df >= 1, "student_t_quantile: df < 1");
  if (p < 0.5) return -student_t_quantile_series(1.0 - p, df);
  const double target = 2.0 * p - 1.0;
  const double norm = wallis_integral(df - 1);
  // A is increasing and concave on [0, pi/2), so Newton from the left never overshoots in exact arithmetic;
  // the bracket catches rounding near the root, and bisection takes over if a step would leave it.
  double lo = 0.0;
  double hi = std::numbers::pi / 2.0;
  double theta = 0.0;
  for (int iter = 0; iter < 200; ++iter) {
    const double g = two_sided_cdf(theta, df) - target;
    if (g == 0.0) break;
    if (g < 0.0) {
      lo = theta;
    } else {
      hi = theta;
    }
    const double slope = std::pow(std::cos(theta), df - 1) / norm;
    double next = slope > 0.0 ? theta - g / slope : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (std::abs(next - theta) <= 4.0 * std::numeric_limits<double>::epsilon() * theta) {
      theta = next;
      break;
    }
    theta = next;
  }
  return std::sqrt(static_cast<double>(df)) * std::tan(theta);
}

double normal_quantile(double p) {
  RPSIM_ASSERT(p > 0.0 && p < 1.0, "normal_quantile: p outside (0, 1)");
  if (p < 0.5) return -normal_quantile(1.0 - p);
  // Work with the upper tail q = 1 - p (exact for p >= 0.5): the tail function is decreasing and convex, so
  // Newton from z = 0 approaches the root from the left without overshooting.
  const double q = 1.0 - p;
  const double inv_sqrt_2pi = 1.0 / std::sqrt(2.0 * std::numbers::pi);
  double z = 0.0;
  for (int iter = 0; iter < 200; ++iter) {
    const double tail = 0.5 * std::erfc(z / std::numbers::sqrt2);
    const double density = inv_sqrt_2pi * std::exp(-0.5 * z * z);
    if (density == 0.0) break;
    const double step = (tail - q) / density;
    z += step;
    if (std::abs(step) <= 4.0 * std::numeric_limits<double>::epsilon() * z) break;
  }
  return z;
}

double student_t_quantile_expansion(double p, int df) {
  RPSIM_ASSERT(df >= 1, "student_t_quantile: df < 1");
  const double x = normal_quantile(p);
  const double x2 = x * x;
  const double x3 = x2 * x;
  const double x5 = x3 * x2;
  const double x7 = x5 * x2;
  const double x9 = x7 * x2;
  const double g1 = (x3 + x) / 4.0;
  const double g2 = (5.0 * x5 + 16.0 * x3 + 3.0 * x) / 96.0;
  const double g3 = (3.0 * x7 + 19.0 * x5 + 17.0 * x3 - 15.0 * x) / 384.0;
  const double g4 = (79.0 * x9 + 776.0 * x7 + 1482.0 * x5 - 1920.0 * x3 - 945.0 * x) / 92160.0;
  const double inv = 1.0 / static_cast<double>(df);
  return x + inv * (g1 + inv * (g2 + inv * (g3 + inv * g4)));
}

}  // namespace detail

double student_t_quantile(double p, int df) {
  return df <= kSeriesMaxDf ? detail::student_t_quantile_series(p, df)
                            : detail::student_t_quantile_expansion(p, df);
}

void Summary::add(double x) {
  ++n_;
  if (n_ == 1) {
    min_ = x;
    max_ = x;
  } else {
    min_ = std::min(min_, x);
    max_ = std::max(max_, x);
  }
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(n_);
  m2_ += delta * (x - mean_);
}

double Summary::stddev() const {
  if (n_ < 2) return 0.0;
  return std::sqrt(m2_ / static_cast<double>(n_ - 1));
}

double Summary::ci95() const {
  if (n_ < 2) return 0.0;
  const std::uint64_t df = n_ - 1;
  const int df_int = df > static_cast<std::uint64_t>(std::numeric_limits<int>::max())
                         ? std::numeric_limits<int>::max()
                         : static_cast<int>(df);
  return student_t_quantile(0.975, df_int) * stddev() / std::sqrt(static_cast<double>(n_));
}

double jain_index(std::span<const double> xs) {
  double sum = 0.0;
  double sum_sq = 0.0;
  for (double x : xs) {
    sum += x;
    sum_sq += x * x;
  }
  if (sum_sq == 0.0) return 1.0;
  return sum * sum / (static_cast<double>(xs.size()) * sum_sq);
}

double max_over_mean(std::span<const double> xs) {
  if (xs.empty()) return 1.0;
  double sum = 0.0;
  double largest = xs.front();
  for (double x : xs) {
    sum += x;
    largest = std::max(largest, x);
  }
  if (sum == 0.0) return 1.0;
  return largest / (sum / static_cast<double>(xs.size()));
}

}  // namespace sim
