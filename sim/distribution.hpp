// Duration distributions (constant, exponential, uniform, lognormal, empirical) sampled from a RandomStream as Time.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "sim/random.hpp"
#include "sim/time.hpp"

namespace sim {

class Distribution {
 public:
  enum class Kind { kConstant, kExponential, kUniform, kLognormal, kEmpirical };

  Distribution() = default;  // constant zero
  static Distribution constant(Time value);
  static Distribution exponential(Time mean);
  static Distribution uniform(Time low, Time high);
  // Lognormal from its mean and coefficient of variation (cv = stddev / mean).
  static Distribution lognormal_cv(Time mean, double cv);
  // Lognormal from its mean and 99th percentile. Returns nullopt when no lognormal has that pair (p99 <= mean, or
  // p99 / mean above exp(z^2 / 2) ~ 14.9, where the quadratic for sigma has no real root).
  static std::optional<Distribution> lognormal_p99(Time mean, Time p99);
  // Draws one of `values` with probability proportional to its weight (equal weights when `weights` is empty).
  static Distribution empirical(std::vector<Time> values, std::vector<double> weights = {});

  // A constant (most costs of a simple scenario are a constant zero) is answered inline, without a draw.
  [[nodiscard]] Time sample(RandomStream& rng) const {
    return kind_ == Kind::kConstant ? static_cast<Time>(a_) : sample_random(rng);
  }
  [[nodiscard]] double mean() const;  // exact mean in ns, for analytic cross-checks and reports
  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] bool is_zero() const { return kind_ == Kind::kConstant && a_ == 0; }
  [[nodiscard]] std::string describe() const;
  // The same shape with every time multiplied by `factor` (used for weighted clients and sweeps).
  [[nodiscard]] Distribution scaled(double factor) const;

 private:
  [[nodiscard]] Time sample_random(RandomStream& rng) const;

  Kind kind_ = Kind::kConstant;
  double a_ = 0;  // constant: value; exponential: mean; uniform: low; lognormal: mu
  double b_ = 0;  // uniform: high; lognormal: sigma
  std::vector<Time> values_;
  std::vector<double> cumulative_;  // empirical: cumulative weights normalised to 1
};

}  // namespace sim
