// Closed forms and exact solvers behind models/analytic.hpp.
#include "models/analytic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

#include <Eigen/LU>

namespace models::analytic {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("models::analytic::" + what);
}

void require_rates(const char* fn, double lambda, double mu) {
  require(std::isfinite(lambda) && std::isfinite(mu) && lambda >= 0.0 && mu > 0.0,
          std::string(fn) + ": need finite lambda >= 0 and mu > 0");
}

}  // namespace

// ---- Open queues ----

double mm1_mean_wait(double lambda, double mu) {
  require_rates("mm1_mean_wait", lambda, mu);
  if (lambda >= mu) return kNaN;
  return (lambda / mu) / (mu - lambda);
}

double mm1_mean_response(double lambda, double mu) {
  require_rates("mm1_mean_response", lambda, mu);
  if (lambda >= mu) return kNaN;
  return 1.0 / (mu - lambda);
}

double erlang_b(int servers, double offered_load) {
  require(servers >= 0 && std::isfinite(offered_load) && offered_load >= 0.0,
          "erlang_b: need servers >= 0 and finite offered_load >= 0");
  double b = 1.0;
  for (int k = 1; k <= servers; ++k) b = offered_load * b / (k + offered_load * b);
  return b;
}

double erlang_c(int servers, double offered_load) {
  require(servers >= 1 && std::isfinite(offered_load) && offered_load >= 0.0,
          "erlang_c: need servers >= 1 and finite offered_load >= 0");
  const double c = servers;
  const double a = offered_load;
  if (a >= c) return kNaN;
  // C = c B / (c - a (1 - B)): both terms of the denominator are positive below saturation, so no
  // cancellation.
  const double b = erlang_b(servers, a);
  return c * b / (c - a * (1.0 - b));
}

double mmc_mean_wait(double lambda, double mu, int servers) {
  require_rates("mmc_mean_wait", lambda, mu);
  require(servers >= 1, "mmc_mean_wait: need servers >= 1");
  if (lambda >= servers * mu) return kNaN;
  return erlang_c(servers, lambda / mu) / (servers * mu - lambda);
}

double mmc_mean_response(double lambda, double mu, int servers) {
  require_rates("mmc_mean_response", lambda, mu);
  require(servers >= 1, "mmc_mean_response: need servers >= 1");
  return mmc_mean_wait(lambda, mu, servers) + 1.0 / mu;
}

// ---- Exact MVA ----

namespace {

constexpr int kMaxLoadDependentStations = 10;

// One exact MVA over sub-networks that differ only in which load-dependent (multi-server) stations are
// present. Sub-networks exist to supply X_without(n) for the stable p(0 | n) of each multi-server station.
class ExactMva {
 public:
  ExactMva(const std::vector<MvaStation>& stations, int customers) : customers_(customers) {
    require(!stations.empty(), "mva: need at least one station");
    require(customers >= 1, "mva: need customers >= 1");
    double total_demand = 0.0;
    for (const MvaStation& s : stations) {
      require(
          s.kind == MvaStation::kDelay || s.kind == MvaStation::kQueue || s.kind == MvaStation::kMultiServer,
          "mva: unknown station kind");
      require(std::isfinite(s.demand) && s.demand >= 0.0, "mva: station demand must be finite and >= 0");
      require(s.kind != MvaStation::kMultiServer || s.servers >= 1,
              "mva: a multi-server station needs servers >= 1");
      total_demand += s.demand;
      original_kind_.push_back(s.kind);
      demand_.push_back(s.demand);
      servers_.push_back(s.servers);
      // Exact reductions: one server is a plain queue; with at least as many servers as customers nobody ever
      // waits (j / min(j, c) = 1 for every j <= N), and zero demand holds nobody; both behave as a delay.
      MvaStation::Kind kind = s.kind;
      if (kind == MvaStation::kMultiServer) {
        if (s.servers == 1) {
          kind = MvaStation::kQueue;
        } else if (s.servers >= customers || s.demand == 0.0) {
          kind = MvaStation::kDelay;
        } else {
          load_dependent_.push_back(static_cast<int>(kind_.size()));
        }
      }
      kind_.push_back(kind);
    }
    require(total_demand > 0.0, "mva: total demand must be positive");
    require(static_cast<int>(load_dependent_.size()) <= kMaxLoadDependentStations,
            "mva: at most 10 multi-server stations with 1 < servers < customers (cost doubles with each)");
  }

  std::vector<MvaResult> solve() {
    std::vector<MvaResult> out;
    out.reserve(customers_);
    const std::uint32_t all = (std::uint32_t{1} << load_dependent_.size()) - 1;
    recurse(all, &out);
    return out;
  }

 private:
  // X(n), n = 0..N, of the sub-network holding the multi-server stations whose bit is set in `present`.
  const std::vector<double>& throughputs(std::uint32_t present) {
    auto it = memo_.find(present);
    if (it == memo_.end()) it = memo_.emplace(present, recurse(present, nullptr)).first;
    return it->second;
  }

  std::vector<double> recurse(std::uint32_t present, std::vector<MvaResult>* out) {
    const int n_stations = static_cast<int>(kind_.size());
    const int n_ld = static_cast<int>(load_dependent_.size());
    std::vector<char> in_network(n_stations, 1);
    std::vector<int> slot(n_stations, -1);  // station -> index into `active`
    std::vector<int> active;                // bit numbers of the present multi-server stations
    double present_demand = 0.0;
    for (int b = 0; b < n_ld; ++b) {
      const int k = load_dependent_[b];
      if (present & (std::uint32_t{1} << b)) {
        slot[k] = static_cast<int>(active.size());
        active.push_back(b);
      } else {
        in_network[k] = 0;
      }
    }
    for (int k = 0; k < n_stations; ++k) {
      if (in_network[k]) present_demand += demand_[k];
    }
    std::vector<double> x(customers_ + 1, 0.0);
    if (present_demand == 0.0) {
      // Only reachable for a sub-network: every station holds customers for zero time, so G(n) = 0 for n >= 1
      // and an infinite throughput makes the caller's p(0 | n) = p(0 | n-1) X(n) / X_without(n) come out 0,
      // as it should.
      std::fill(x.begin() + 1, x.end(), std::numeric_limits<double>::infinity());
      return x;
    }

    std::vector<const std::vector<double>*> without(active.size());
    for (std::size_t a = 0; a < active.size(); ++a) {
      without[a] = &throughputs(present & ~(std::uint32_t{1} << active[a]));
    }

    std::vector<double> queue(n_stations, 0.0);
    std::vector<double> residence(n_stations, 0.0);
    // p[a][j] = P(j customers at active station a | current population); starts at population 0.
    std::vector<std::vector<double>> p(active.size(), std::vector<double>(customers_ + 1, 0.0));
    for (auto& pa : p) pa[0] = 1.0;

    for (int n = 1; n <= customers_; ++n) {
      double cycle = 0.0;
      for (int k = 0; k < n_stations; ++k) {
        if (!in_network[k]) continue;
        switch (kind_[k]) {
          case MvaStation::kDelay:
            residence[k] = demand_[k];
            break;
          case MvaStation::kQueue:
            residence[k] = demand_[k] * (1.0 + queue[k]);
            break;
          case MvaStation::kMultiServer: {
            const std::vector<double>& pk = p[slot[k]];
            const int c = servers_[k];
            double s = 0.0;
            for (int j = 1; j <= n; ++j) s += (j <= c ? 1.0 : static_cast<double>(j) / c) * pk[j - 1];
            residence[k] = demand_[k] * s;
            break;
          }
        }
        cycle += residence[k];
      }
      const double throughput = n / cycle;
      x[n] = throughput;
      for (int k = 0; k < n_stations; ++k) queue[k] = in_network[k] ? throughput * residence[k] : 0.0;

      for (std::size_t a = 0; a < active.size(); ++a) {
        const int k = load_dependent_[active[a]];
        const int c = servers_[k];
        std::vector<double>& pk = p[a];
        // Downwards so that pk[j - 1] still holds p(j-1 | n-1) when p(j | n) is formed.
        for (int j = n; j >= 1; --j) pk[j] = demand_[k] * throughput / std::min(j, c) * pk[j - 1];
        pk[0] *= throughput / (*without[a])[n];
      }

      if (out != nullptr) {
        double response = 0.0;
        for (int k = 0; k < n_stations; ++k) {
          if (original_kind_[k] != MvaStation::kDelay) response += residence[k];
        }
        out->push_back(MvaResult{throughput, response, queue, residence});
      }
    }
    return x;
  }

  int customers_;
  std::vector<MvaStation::Kind> original_kind_;
  std::vector<MvaStation::Kind> kind_;  // after the exact reductions
  std::vector<double> demand_;
  std::vector<int> servers_;
  std::vector<int> load_dependent_;  // stations solved with the load-dependent recursion; bit b <-> entry b
  std::map<std::uint32_t, std::vector<double>> memo_;
};

}  // namespace

MvaResult mva(const std::vector<MvaStation>& stations, int customers) {
  return ExactMva(stations, customers).solve().back();
}

std::vector<MvaResult> mva_by_population(const std::vector<MvaStation>& stations, int customers) {
  return ExactMva(stations, customers).solve();
}

// ---- Continuous-time Markov chains ----

Eigen::VectorXd ctmc_steady_state(const Eigen::MatrixXd& generator) {
  const Eigen::Index s = generator.rows();
  require(s >= 1 && generator.cols() == s, "ctmc_steady_state: generator must be square and non-empty");
  require(generator.allFinite(), "ctmc_steady_state: generator has a non-finite entry");
  const double scale = generator.cwiseAbs().maxCoeff();
  for (Eigen::Index i = 0; i < s; ++i) {
    for (Eigen::Index j = 0; j < s; ++j) {
      require(i == j || generator(i, j) >= 0.0, "ctmc_steady_state: negative off-diagonal rate");
    }
    const double row_scale = generator.row(i).cwiseAbs().sum();
    require(std::abs(generator.row(i).sum()) <= 1e-10 * row_scale,
            "ctmc_steady_state: a row does not sum to zero");
  }
  if (s == 1) return Eigen::VectorXd::Ones(1);

  // pi Q = 0 is Q^T pi^T = 0; those equations are dependent, so one of them makes room for sum(pi) = 1.
  Eigen::MatrixXd a = generator.transpose();
  a.row(s - 1).setOnes();
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(s);
  rhs(s - 1) = 1.0;
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu(a);
  // Several closed classes make the system singular, which partial-pivot LU does not report by itself: look
  // at the condition estimate, then check the answer against the balance equations as well.
  require(lu.rcond() > std::numeric_limits<double>::epsilon(),
          "ctmc_steady_state: no unique stationary distribution (is the chain irreducible?)");
  Eigen::VectorXd pi = lu.solve(rhs);
  require(pi.allFinite() && pi.minCoeff() >= -1e-9 &&
              (pi.transpose() * generator).cwiseAbs().maxCoeff() <= 1e-8 * scale,
          "ctmc_steady_state: solution fails the balance equations (ill-conditioned or reducible chain)");
  return pi;
}

ClosedPoolResult closed_pool_ctmc(int customers, double think_mean, double cpu_demand, int pool_servers,
                                  double server_demand) {
  require(customers >= 1 && pool_servers >= 1, "closed_pool_ctmc: need customers >= 1 and pool_servers >= 1");
  require(std::isfinite(think_mean) && std::isfinite(cpu_demand) && std::isfinite(server_demand) &&
              think_mean > 0.0 && cpu_demand > 0.0 && server_demand > 0.0,
          "closed_pool_ctmc: think_mean, cpu_demand and server_demand must be finite and > 0");
  const int n = customers;
  const long long states = static_cast<long long>(n + 1) * (n + 2) / 2;
  require(states <= 5000, "closed_pool_ctmc: more than 5,000 states (customers > 98)");

  // State (a at the CPU, b at the pool), a + b <= N, laid out a-major: block a holds b = 0..N-a.
  auto index = [n](int a, int b) { return a * (n + 1) - a * (a - 1) / 2 + b; };
  const int s = static_cast<int>(states);
  Eigen::MatrixXd q = Eigen::MatrixXd::Zero(s, s);
  for (int a = 0; a <= n; ++a) {
    for (int b = 0; a + b <= n; ++b) {
      const int from = index(a, b);
      const int thinking = n - a - b;
      if (thinking > 0) q(from, index(a + 1, b)) += thinking / think_mean;
      if (a > 0) q(from, index(a - 1, b + 1)) += 1.0 / cpu_demand;
      if (b > 0) q(from, index(a, b - 1)) += std::min(b, pool_servers) / server_demand;
      q(from, from) = -q.row(from).sum();
    }
  }

  const Eigen::VectorXd pi = ctmc_steady_state(q);
  double throughput = 0.0;
  double at_cpu = 0.0;
  double at_pool = 0.0;
  for (int a = 0; a <= n; ++a) {
    for (int b = 0; a + b <= n; ++b) {
      const double pr = pi(index(a, b));
      throughput += pr * std::min(b, pool_servers) / server_demand;
      at_cpu += pr * a;
      at_pool += pr * b;
    }
  }
  // Little's law on the CPU + pool part of the cycle.
  return ClosedPoolResult{throughput, (at_cpu + at_pool) / throughput, at_cpu, at_pool, s};
}

// ---- Balls into bins ----

namespace {

// Entries below this fraction of a series' largest entry are dropped from its edges. Every series here is a
// log-concave probability vector, so the dropped mass is negligible and the kept part stays contiguous.
constexpr double kTrim = 1e-40;

// Coefficients c[i] of x^(offset + i).
struct Series {
  int offset = 0;
  std::vector<double> c;
};

void trim(Series& s) {
  if (s.c.empty()) return;
  const double threshold = *std::max_element(s.c.begin(), s.c.end()) * kTrim;
  std::size_t lo = 0;
  std::size_t hi = s.c.size();
  while (lo < hi && !(s.c[lo] > threshold)) ++lo;
  while (hi > lo && !(s.c[hi - 1] > threshold)) --hi;
  s.offset += static_cast<int>(lo);
  s.c = std::vector<double>(s.c.begin() + lo, s.c.begin() + hi);
}

// Product truncated above degree `top`: coefficient `top` of the final power needs nothing higher.
Series multiply(const Series& a, const Series& b, int top) {
  Series r;
  r.offset = a.offset + b.offset;
  if (a.c.empty() || b.c.empty() || r.offset > top) return Series{};
  const std::size_t size =
      std::min(a.c.size() + b.c.size() - 1, static_cast<std::size_t>(top - r.offset + 1));
  r.c.assign(size, 0.0);
  for (std::size_t i = 0; i < a.c.size() && i < size; ++i) {
    const std::size_t jmax = std::min(b.c.size(), size - i);
    for (std::size_t j = 0; j < jmax; ++j) r.c[i + j] += a.c[i] * b.c[j];
  }
  trim(r);
  return r;
}

// Coefficient of x^deg in a * b without forming the whole product.
double coefficient(const Series& a, const Series& b, int deg) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.c.size(); ++i) {
    const long long j = static_cast<long long>(deg) - a.offset - static_cast<long long>(i) - b.offset;
    if (j >= 0 && j < static_cast<long long>(b.c.size())) sum += a.c[i] * b.c[j];
  }
  return sum;
}

// [x^deg] base^power by binary powering; the last squaring is replaced by a single coefficient.
double power_coefficient(const Series& base_in, int power, int deg) {
  Series result{0, {1.0}};
  Series base = base_in;
  int e = power;
  bool result_is_one = true;
  while (true) {
    if (e == 1) return coefficient(result, base, deg);
    if (e == 2) return coefficient(result_is_one ? base : multiply(result, base, deg), base, deg);
    if (e & 1) {
      result = multiply(result, base, deg);
      result_is_one = false;
    }
    e >>= 1;
    base = multiply(base, base, deg);
  }
}

// P(max load <= k) = m!/n^m [x^m] (sum_{j<=k} x^j/j!)^n. Scaling x by lambda = m/n turns x^j/j! into
// Poisson(lambda) weights, so the same identity with k = infinity gives the normaliser: P = [x^m] g_k^n /
// [x^m] g^n, g the Poisson pmf and g_k its restriction to 0..k. Both coefficients are probabilities of order
// 1/sqrt(m) computed from the same rounded weights, so the ratio carries no factorials and no overflow, and
// is accurate in absolute terms.
class MaxLoad {
 public:
  MaxLoad(int m, int n) : m_(m), n_(n) {
    require(m >= 0 && n >= 1, "max load: need m >= 0 balls and n >= 1 bins");
    if (m == 0) return;
    const double lambda = static_cast<double>(m) / n;
    // Weights relative to the mode by ratios outward from it: no lgamma, hence no large cancelling
    // logarithms.
    const int mode = std::min(m, static_cast<int>(std::floor(lambda)));
    std::vector<double> w(m + 1, 0.0);
    w[mode] = 1.0;
    for (int j = mode + 1; j <= m; ++j) w[j] = w[j - 1] * lambda / j;
    for (int j = mode; j >= 1; --j) w[j - 1] = w[j] * j / lambda;
    double total = 0.0;
    for (double v : w) total += v;
    for (double& v : w) v /= total;
    pmf_.c = std::move(w);
    trim(pmf_);
    unrestricted_ = power_coefficient(pmf_, n_, m_);
  }

  double cdf(int k) const {
    if (m_ == 0) return k >= 0 ? 1.0 : 0.0;
    if (static_cast<long long>(k) * n_ < m_) return 0.0;
    if (k >= m_) return 1.0;
    Series restricted;
    restricted.offset = pmf_.offset;
    const int last = std::min(k, pmf_.offset + static_cast<int>(pmf_.c.size()) - 1);
    if (last < pmf_.offset) return 0.0;
    restricted.c.assign(pmf_.c.begin(), pmf_.c.begin() + (last - pmf_.offset + 1));
    return std::clamp(power_coefficient(restricted, n_, m_) / unrestricted_, 0.0, 1.0);
  }

  // Union bound 1 - P(max <= k) <= n P(Binomial(m, 1/n) > k): rigorous, and tight in the far tail where 1 -
  // cdf is below rounding. Used to clip that noise and to know when the rest of the sum is negligible.
  double tail_bound(int k) const {
    const double p = 1.0 / n_;
    const double mean = m_ * p;
    double sum = 0.0;
    for (int j = k + 1; j <= m_; ++j) {
      const double term = binomial_pmf(j, m_, p);
      sum += term;
      if (j > mean && term <= sum * 1e-20) break;
    }
    return std::min(1.0, n_ * sum);
  }

  // P(max <= k) for k = 0..m, with P taken as exactly 1 once the tail bound is below 1e-17.
  std::vector<double> all_cdf() const {
    std::vector<double> out(m_ + 1, 1.0);
    if (m_ == 0) return out;
    const int first = (m_ + n_ - 1) / n_;  // ceil(m/n): any smaller max cannot hold m balls
    std::fill(out.begin(), out.begin() + first, 0.0);
    for (int k = first; k < m_; ++k) {
      const double bound = tail_bound(k);
      if (bound < 1e-17) break;
      out[k] = std::max(cdf(k), 1.0 - bound);
    }
    return out;
  }

 private:
  int m_;
  int n_;
  Series pmf_;               // Poisson(m/n) pmf on 0..m, trimmed
  double unrestricted_ = 0;  // [x^m] pmf^n = P(Poisson(m) = m)
};

}  // namespace

double binomial_pmf(int k, int n, double p) {
  require(n >= 0 && std::isfinite(p) && p >= 0.0 && p <= 1.0, "binomial_pmf: need n >= 0 and 0 <= p <= 1");
  if (k < 0 || k > n) return 0.0;
  if (p == 0.0) return k == 0 ? 1.0 : 0.0;
  if (p == 1.0) return k == n ? 1.0 : 0.0;
  const double log_choose = std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0);
  return std::exp(log_choose + k * std::log(p) + (n - k) * std::log1p(-p));
}

double max_load_cdf(int k, int m, int n) { return MaxLoad(m, n).cdf(k); }

std::vector<double> max_load_pmf(int m, int n) {
  const std::vector<double> cdf = MaxLoad(m, n).all_cdf();
  std::vector<double> pmf(cdf.size());
  for (std::size_t k = 0; k < cdf.size(); ++k) pmf[k] = std::max(0.0, cdf[k] - (k == 0 ? 0.0 : cdf[k - 1]));
  return pmf;
}

double expected_max_load(int m, int n) {
  // E[max] = sum_{k>=0} P(max > k); summed smallest terms first to keep the tail's digits.
  const std::vector<double> cdf = MaxLoad(m, n).all_cdf();
  double sum = 0.0;
  for (std::size_t k = cdf.size(); k-- > 0;) sum += 1.0 - cdf[k];
  return sum;
}

double raab_steger_upper(int m, int n) {
  require(m >= 0 && n >= 1, "raab_steger_upper: need m >= 0 and n >= 1");
  const double mean = static_cast<double>(m) / n;
  return mean + std::sqrt(2.0 * mean * std::log(static_cast<double>(n)));
}

// ---- Chi-square ----

namespace {

constexpr int kGammaMaxIterations = 100000;

// Regularised upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), a > 0, x >= 0.
double gamma_q(double a, double x) {
  if (x <= 0.0) return 1.0;
  if (std::isinf(x)) return 0.0;
  const double log_front = a * std::log(x) - x - std::lgamma(a);
  if (x < a + 1.0) {
    // Below about the mean the power series for P(a, x) converges quickly and Q = 1 - P is not small,
    // so the subtraction loses nothing.
    double term = 1.0 / a;
    double sum = term;
    for (int i = 1; i < kGammaMaxIterations; ++i) {
      term *= x / (a + i);
      sum += term;
      if (term < sum * 1e-17) return std::max(0.0, 1.0 - sum * std::exp(log_front));
    }
  } else {
    // Above it, Legendre's continued fraction for Q itself keeps the relative accuracy of a small tail.
    // Evaluated with the modified Lentz method; `tiny` stands in for a zero denominator.
    constexpr double tiny = 1e-300;
    double b = x + 1.0 - a;
    double c = 1.0 / tiny;
    double d = 1.0 / b;
    double f = d;
    for (int i = 1; i < kGammaMaxIterations; ++i) {
      const double an = -i * (i - a);
      b += 2.0;
      d = an * d + b;
      if (std::abs(d) < tiny) d = tiny;
      c = b + an / c;
      if (std::abs(c) < tiny) c = tiny;
      d = 1.0 / d;
      const double delta = c * d;
      f *= delta;
      if (std::abs(delta - 1.0) < 1e-16) return std::exp(log_front) * f;
    }
  }
  throw std::runtime_error("models::analytic::gamma_q: no convergence");
}

}  // namespace

double chi_square_sf(double x, int df) {
  require(df >= 1 && !std::isnan(x), "chi_square_sf: need df >= 1 and x not NaN");
  return gamma_q(0.5 * df, 0.5 * x);
}

double chi_square_statistic(std::span<const double> observed, std::span<const double> expected) {
  require(observed.size() == expected.size() && !observed.empty(),
          "chi_square_statistic: observed and expected need the same, non-zero length");
  double stat = 0.0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    require(std::isfinite(observed[i]) && observed[i] >= 0.0,
            "chi_square_statistic: observed counts must be >= 0");
    require(std::isfinite(expected[i]) && expected[i] > 0.0,
            "chi_square_statistic: expected counts must be > 0");
    const double diff = observed[i] - expected[i];
    stat += diff * diff / expected[i];
  }
  return stat;
}

double chi_square_p_value(std::span<const double> observed, std::span<const double> expected) {
  require(observed.size() >= 2, "chi_square_p_value: need at least two bins");
  const double stat = chi_square_statistic(observed, expected);
  return chi_square_sf(stat, static_cast<int>(observed.size()) - 1);
}

}  // namespace models::analytic
