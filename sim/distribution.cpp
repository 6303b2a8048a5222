// Sampling and moments of the duration distributions.
#include "sim/distribution.hpp"

#include <algorithm>
#include <cstdio>

#include "sim/assert.hpp"

namespace sim {
namespace {
constexpr double kZ99 = 2.3263478740408408;  // standard normal quantile at 0.99

Time round_nonnegative(double ns) { return ns <= 0 ? 0 : static_cast<Time>(ns + 0.5); }
}  // namespace

Distribution Distribution::constant(Time value) {
  RPSIM_ASSERT(value >= 0, "durations are non-negative");
  Distribution d;
  d.kind_ = Kind::kConstant;
  d.a_ = static_cast<double>(value);
  return d;
}

Distribution Distribution::exponential(Time mean) {
  RPSIM_ASSERT(mean >= 0, "durations are non-negative");
  Distribution d;
  d.kind_ = Kind::kExponential;
  d.a_ = static_cast<double>(mean);
  return d;
}

Distribution Distribution::uniform(Time low, Time high) {
  RPSIM_ASSERT(0 <= low && low <= high, "uniform needs 0 <= low <= high");
  Distribution d;
  d.kind_ = Kind::kUniform;
  d.a_ = static_cast<double>(low);
  d.b_ = static_cast<double>(high);
  return d;
}

Distribution Distribution::lognormal_cv(Time mean, double cv) {
  RPSIM_ASSERT(mean > 0 && cv >= 0, "lognormal needs mean > 0 and cv >= 0");
  // For a lognormal, cv^2 = exp(sigma^2) - 1 and mean = exp(mu + sigma^2 / 2).
  Distribution d;
  d.kind_ = Kind::kLognormal;
  d.b_ = std::sqrt(std::log1p(cv * cv));
  d.a_ = std::log(static_cast<double>(mean)) - d.b_ * d.b_ / 2;
  return d;
}

std::optional<Distribution> Distribution::lognormal_p99(Time mean, Time p99) {
  if (mean <= 0 || p99 <= mean) return std::nullopt;
  // ln(p99) - ln(mean) = z sigma - sigma^2 / 2; take the smaller root so the tail is the lighter of the two fits.
  const double r = std::log(static_cast<double>(p99) / static_cast<double>(mean));
  const double disc = kZ99 * kZ99 - 2 * r;
  if (disc < 0) return std::nullopt;
  Distribution d;
  d.kind_ = Kind::kLognormal;
  d.b_ = kZ99 - std::sqrt(disc);
  d.a_ = std::log(static_cast<double>(mean)) - d.b_ * d.b_ / 2;
  return d;
}

Distribution Distribution::empirical(std::vector<Time> values, std::vector<double> weights) {
  RPSIM_ASSERT(!values.empty(), "empirical needs at least one value");
  RPSIM_ASSERT(weights.empty() || weights.size() == values.size(), "one weight per value");
  Distribution d;
  d.kind_ = Kind::kEmpirical;
  if (weights.empty()) weights.assign(values.size(), 1.0);
  double total = 0;
  for (double w : weights) {
    RPSIM_ASSERT(w >= 0, "weights are non-negative");
    total += w;
  }
  RPSIM_ASSERT(total > 0, "weights must not all be zero");
  double run = 0;
  for (double w : weights) {
    run += w / total;
    d.cumulative_.push_back(run);
  }
  d.cumulative_.back() = 1.0;
  d.values_ = std::move(values);
  return d;
}

Time Distribution::sample_random(RandomStream& rng) const {
  switch (kind_) {
    case Kind::kConstant:
      return static_cast<Time>(a_);
    case Kind::kExponential:
      return round_nonnegative(rng.exponential(a_));
    case Kind::kUniform:
      return round_nonnegative(a_ + (b_ - a_) * rng.uniform());
    case Kind::kLognormal:
      return round_nonnegative(std::exp(a_ + b_ * rng.normal()));
    case Kind::kEmpirical: {
      const double u = rng.uniform();
      const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
      const auto index = std::min<std::size_t>(static_cast<std::size_t>(it - cumulative_.begin()), values_.size() - 1);
      return values_[index];
    }
  }
  return 0;
}

double Distribution::mean() const {
  switch (kind_) {
    case Kind::kConstant:
    case Kind::kExponential:
      return a_;
    case Kind::kUniform:
      return (a_ + b_) / 2;
    case Kind::kLognormal:
      return std::exp(a_ + b_ * b_ / 2);
    case Kind::kEmpirical: {
      double m = 0, prev = 0;
      for (std::size_t i = 0; i < values_.size(); ++i) {
        m += (cumulative_[i] - prev) * static_cast<double>(values_[i]);
        prev = cumulative_[i];
      }
      return m;
    }
  }
  return 0;
}

Distribution Distribution::scaled(double factor) const {
  RPSIM_ASSERT(factor >= 0, "scale factors are non-negative");
  Distribution d = *this;
  switch (kind_) {
    case Kind::kConstant:
    case Kind::kExponential:
      d.a_ = a_ * factor;
      break;
    case Kind::kUniform:
      d.a_ = a_ * factor;
      d.b_ = b_ * factor;
      break;
    case Kind::kLognormal:
      if (factor == 0) return constant(0);
      d.a_ = a_ + std::log(factor);
      break;
    case Kind::kEmpirical:
      for (auto& v : d.values_) v = round_nonnegative(static_cast<double>(v) * factor);
      break;
  }
  return d;
}

std::string Distribution::describe() const {
  char buf[96];
  switch (kind_) {
    case Kind::kConstant:
      std::snprintf(buf, sizeof buf, "constant %.3gus", a_ / 1e3);
      break;
    case Kind::kExponential:
      std::snprintf(buf, sizeof buf, "exponential mean %.3gus", a_ / 1e3);
      break;
    case Kind::kUniform:
      std::snprintf(buf, sizeof buf, "uniform %.3gus..%.3gus", a_ / 1e3, b_ / 1e3);
      break;
    case Kind::kLognormal:
      std::snprintf(buf, sizeof buf, "lognormal mean %.3gus sigma %.3g", mean() / 1e3, b_);
      break;
    case Kind::kEmpirical:
      std::snprintf(buf, sizeof buf, "empirical %zu values mean %.3gus", values_.size(), mean() / 1e3);
      break;
  }
  return buf;
}

}  // namespace sim
