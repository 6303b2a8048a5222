// Tests for models/analytic: each case states its expected answer and its source before asserting.
#include "models/analytic.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

namespace an = models::analytic;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using Station = an::MvaStation;

namespace {

// Brute-force product form for a closed network of one delay station and load-dependent stations: the
// probability of (k_1..k_S) at the stations, N - sum k thinking, is proportional to Z^t / t! * prod_s D_s^k_s
// / prod_{i<=k_s} min(i, c_s). Independent of MVA (no recursion in the population), so it checks the
// recursion, not restates it.
struct BruteForce {
  double throughput = 0.0;
  std::vector<double> queue_length;  // per load-dependent station
};

BruteForce product_form(int customers, double think, const std::vector<double>& demand,
                        const std::vector<int>& servers) {
  const std::size_t s = demand.size();
  std::vector<int> k(s, 0);
  double norm = 0.0;
  double busy0 = 0.0;  // sum of weight * min(k_0, c_0): throughput of station 0 times D_0
  std::vector<double> weighted_k(s, 0.0);
  while (true) {
    int at_stations = 0;
    for (int v : k) at_stations += v;
    if (at_stations <= customers) {
      const int thinking = customers - at_stations;
      double w = std::pow(think, thinking) / std::tgamma(thinking + 1.0);
      for (std::size_t i = 0; i < s; ++i) {
        for (int j = 1; j <= k[i]; ++j) w *= demand[i] / std::min(j, servers[i]);
      }
      norm += w;
      busy0 += w * std::min(k[0], servers[0]);
      for (std::size_t i = 0; i < s; ++i) weighted_k[i] += w * k[i];
    }
    std::size_t i = 0;
    while (i < s && k[i] == customers) k[i++] = 0;
    if (i == s) break;
    ++k[i];
  }
  BruteForce out;
  out.throughput = busy0 / norm / demand[0];
  for (double v : weighted_k) out.queue_length.push_back(v / norm);
  return out;
}

// Exact distribution of the maximum load by enumerating all n^m equally likely assignments.
std::vector<double> brute_force_max_pmf(int m, int n) {
  std::vector<double> pmf(m + 1, 0.0);
  std::vector<int> choice(m, 0);
  double total = 0.0;
  while (true) {
    std::vector<int> load(n, 0);
    for (int c : choice) ++load[c];
    int mx = 0;
    for (int l : load) mx = std::max(mx, l);
    pmf[mx] += 1.0;
    total += 1.0;
    int i = 0;
    while (i < m && choice[i] == n - 1) choice[i++] = 0;
    if (i == m) break;
    ++choice[i];
  }
  for (double& p : pmf) p /= total;
  return pmf;
}

}  // namespace

TEST_CASE("M/M/1 at rho = 0.5", "[analytic]") {
  // Closed form: lambda = 1, mu = 2 gives W_q = rho / (mu - lambda) = 0.5 / 1 = 0.5 = 1/mu, and W = 1/(mu -
  // lambda) = 1.
  CHECK_THAT(an::mm1_mean_wait(1.0, 2.0), WithinRel(0.5, 1e-15));
  CHECK_THAT(an::mm1_mean_response(1.0, 2.0), WithinRel(1.0, 1e-15));
  // An idle queue never waits: lambda = 0 gives W_q = 0 and W = 1/mu.
  CHECK(an::mm1_mean_wait(0.0, 4.0) == 0.0);
  CHECK_THAT(an::mm1_mean_response(0.0, 4.0), WithinRel(0.25, 1e-15));
}

TEST_CASE("Open queues: unstable gives NaN, malformed input throws", "[analytic]") {
  // Documented convention: rho >= 1 is NaN (not infinity), a negative rate or zero servers is an exception.
  CHECK(std::isnan(an::mm1_mean_wait(2.0, 2.0)));
  CHECK(std::isnan(an::mm1_mean_response(3.0, 2.0)));
  CHECK(std::isnan(an::erlang_c(2, 2.0)));
  CHECK(std::isnan(an::mmc_mean_wait(4.0, 1.0, 4)));
  CHECK(std::isnan(an::mmc_mean_response(5.0, 1.0, 4)));
  CHECK_THROWS_AS(an::mm1_mean_wait(-1.0, 2.0), std::invalid_argument);
  CHECK_THROWS_AS(an::mm1_mean_wait(1.0, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(an::erlang_c(0, 0.5), std::invalid_argument);
  CHECK_THROWS_AS(an::mmc_mean_wait(1.0, 1.0, 0), std::invalid_argument);
  CHECK_THROWS_AS(an::mm1_mean_wait(NAN, 1.0), std::invalid_argument);
}

TEST_CASE("Erlang B and C", "[analytic]") {
  // Hand-worked: B(1,1) = 1/2, B(2,1) = (1 * 1/2) / (2 + 1/2) = 1/5; C(2,1) = 2B / (2 - 1 (1 - B)) = 0.4
  // / 1.2 = 1/3.
  CHECK_THAT(an::erlang_b(2, 1.0), WithinRel(0.2, 1e-14));
  CHECK_THAT(an::erlang_c(2, 1.0), WithinRel(1.0 / 3.0, 1e-14));
  // One server: an arrival waits exactly when the server is busy, so C(1, a) = a.
  CHECK_THAT(an::erlang_c(1, 0.3), WithinRel(0.3, 1e-14));
  // M/M/2 with lambda = mu = 1 (a = 1): W_q = C / (c mu - lambda) = (1/3) / 1; W = 1/3 + 1.
  CHECK_THAT(an::mmc_mean_wait(1.0, 1.0, 2), WithinRel(1.0 / 3.0, 1e-14));
  CHECK_THAT(an::mmc_mean_response(1.0, 1.0, 2), WithinRel(4.0 / 3.0, 1e-14));
  // M/M/c with c = 1 is M/M/1 (closed form above).
  CHECK_THAT(an::mmc_mean_wait(0.7, 1.3, 1), WithinRel(an::mm1_mean_wait(0.7, 1.3), 1e-13));
  // Large c: a^c / c! overflows a double at c = 171, the recursion must not. Reference: the textbook
  // definition C = t_c c/(c-a) / (sum_{k<c} t_k + t_c c/(c-a)), t_k = a^k/k!, evaluated here in logarithms.
  // For c = 500, a = 450 it is 0.0122088896349311 (exact rational arithmetic agrees; Halfin-Whitt's 0.0105 is
  // only leading order).
  {
    const int c = 500;
    const double a = 450.0;
    auto log_t = [a](int k) { return k * std::log(a) - std::lgamma(k + 1.0); };
    const double log_top = log_t(c) + std::log(c / (c - a));
    double denom = std::exp(log_top - log_top);
    for (int k = 0; k < c; ++k) denom += std::exp(log_t(k) - log_top);
    CHECK_THAT(an::erlang_c(c, a), WithinRel(1.0 / denom, 1e-9));
    CHECK_THAT(an::erlang_c(c, a), WithinRel(0.0122088896349311, 1e-9));
  }
}

TEST_CASE("MVA with one customer is the sum of the demands", "[analytic]") {
  // Textbook (Lazowska et al., QSP ch. 6): with N = 1 nobody queues, so X(1) = 1 / (Z + sum D) and R(1) = sum
  // D.
  const std::vector<Station> net{{Station::kDelay, 4.0},
                                 {Station::kQueue, 0.5},
                                 {Station::kQueue, 1.5},
                                 {Station::kMultiServer, 2.0, 3}};
  const an::MvaResult r = an::mva(net, 1);
  CHECK_THAT(r.throughput, WithinRel(1.0 / 8.0, 1e-14));
  CHECK_THAT(r.response_time, WithinRel(4.0, 1e-14));
  CHECK_THAT(r.residence_time[3], WithinRel(2.0, 1e-14));
  CHECK_THAT(r.queue_length[0], WithinRel(0.5, 1e-14));
}

TEST_CASE("MVA hand-worked small populations", "[analytic]") {
  // Two queues with D = 1, no think time, N = 2: the states (2,0), (1,1), (0,2) are equally likely (product
  // form), so X = P(station 1 busy) / D = 2/3 and each queue holds 1 customer on average; R = N / X = 3.
  const an::MvaResult two = an::mva({{Station::kQueue, 1.0}, {Station::kQueue, 1.0}}, 2);
  CHECK_THAT(two.throughput, WithinRel(2.0 / 3.0, 1e-14));
  CHECK_THAT(two.queue_length[0], WithinRel(1.0, 1e-14));
  CHECK_THAT(two.response_time, WithinRel(3.0, 1e-14));

  // Machine repairman, Z = 1, D = 1, N = 2: p(k at the queue) is proportional to N!/(N-k)! (D/Z)^k = 1, 2, 2,
  // so p = 1/5, 2/5, 2/5, X = (1 - p0) / D = 4/5, Q = 6/5, R = N/X - Z = 3/2.
  const an::MvaResult mr = an::mva({{Station::kDelay, 1.0}, {Station::kQueue, 1.0}}, 2);
  CHECK_THAT(mr.throughput, WithinRel(0.8, 1e-14));
  CHECK_THAT(mr.queue_length[1], WithinRel(1.2, 1e-14));
  CHECK_THAT(mr.response_time, WithinRel(1.5, 1e-14));
  // The cycle time N/X is the sum of all residence times, think time included.
  CHECK_THAT(mr.residence_time[0] + mr.residence_time[1], WithinRel(2.0 / 0.8, 1e-14));
}

TEST_CASE("MVA at large N approaches the bottleneck bound", "[analytic]") {
  // Asymptotic bound (QSP ch. 5): X(N) -> 1 / D_max. With D_max = 1 and the next demand 0.5 the gap shrinks
  // like 0.5^N, so at N = 200 it is far below 1e-12; the bottleneck then holds all but a bounded number of
  // customers.
  const std::vector<Station> net{
      {Station::kDelay, 2.0}, {Station::kQueue, 0.5}, {Station::kQueue, 1.0}, {Station::kQueue, 0.25}};
  const an::MvaResult r = an::mva(net, 200);
  CHECK_THAT(r.throughput, WithinRel(1.0, 1e-12));
  // Little's law over the whole cycle: sum of queue lengths is N.
  double total = 0.0;
  for (double q : r.queue_length) total += q;
  CHECK_THAT(total, WithinRel(200.0, 1e-12));
  // A multi-server bottleneck: c servers with demand D cap X at c / D = 8 / 2 = 4. This is the case where
  // taking p(0 | n) as 1 - sum_j p(j | n) breaks down: in double precision that form already gives X(50)
  // = 4.00008 and a probability of -0.036, and a negative throughput by N = 100.
  const an::MvaResult m = an::mva({{Station::kDelay, 1.0}, {Station::kMultiServer, 2.0, 8}}, 500);
  CHECK_THAT(m.throughput, WithinRel(4.0, 1e-12));
  CHECK(m.queue_length[1] > 0.0);
  CHECK(m.queue_length[1] < 500.0);
}

TEST_CASE("MVA multi-server reductions", "[analytic]") {
  // With c >= N servers nobody ever waits, so the station is exactly a delay station of the same demand.
  const std::vector<Station> multi{
      {Station::kDelay, 3.0}, {Station::kQueue, 0.4}, {Station::kMultiServer, 1.7, 6}};
  const std::vector<Station> delay{{Station::kDelay, 3.0}, {Station::kQueue, 0.4}, {Station::kDelay, 1.7}};
  for (int n : {1, 3, 6}) {
    const an::MvaResult a = an::mva(multi, n);
    const an::MvaResult b = an::mva(delay, n);
    CHECK_THAT(a.throughput, WithinRel(b.throughput, 1e-14));
    for (int k = 0; k < 3; ++k) CHECK_THAT(a.queue_length[k], WithinRel(b.queue_length[k], 1e-14));
  }
  // One server is a plain queue.
  const an::MvaResult one = an::mva({{Station::kDelay, 3.0}, {Station::kMultiServer, 0.4, 1}}, 7);
  const an::MvaResult queue = an::mva({{Station::kDelay, 3.0}, {Station::kQueue, 0.4}}, 7);
  CHECK_THAT(one.throughput, WithinRel(queue.throughput, 1e-14));
  // The load-dependent recursion itself (c < N) at c = N - 1 barely differs from delay: only the state with
  // all N customers present waits. Check it against the brute-force product form instead of a formula.
  const an::MvaResult near = an::mva({{Station::kDelay, 1.0}, {Station::kMultiServer, 2.0, 4}}, 5);
  const BruteForce bf = product_form(5, 1.0, {2.0}, {4});
  CHECK_THAT(near.throughput, WithinRel(bf.throughput, 1e-12));
  CHECK_THAT(near.queue_length[1], WithinRel(bf.queue_length[0], 1e-12));
}

TEST_CASE("MVA load-dependent stations against brute-force product form", "[analytic]") {
  // Expected: the product-form stationary distribution summed over all states (see product_form above).
  SECTION("one multi-server station") {
    for (int n : {2, 5, 9, 15}) {
      for (int c : {2, 3, 5}) {
        const an::MvaResult r = an::mva({{Station::kDelay, 2.5}, {Station::kMultiServer, 1.2, c}}, n);
        const BruteForce bf = product_form(n, 2.5, {1.2}, {c});
        CHECK_THAT(r.throughput, WithinRel(bf.throughput, 1e-11));
        CHECK_THAT(r.queue_length[1], WithinRel(bf.queue_length[0], 1e-11));
      }
    }
  }
  SECTION("two multi-server stations and a queue (the sub-network path)") {
    const int n = 9;
    const an::MvaResult r = an::mva({{Station::kDelay, 1.5},
                                     {Station::kMultiServer, 0.8, 2},
                                     {Station::kMultiServer, 2.0, 3},
                                     {Station::kQueue, 0.3}},
                                    n);
    const BruteForce bf = product_form(n, 1.5, {0.8, 2.0, 0.3}, {2, 3, 1});
    CHECK_THAT(r.throughput, WithinRel(bf.throughput, 1e-11));
    CHECK_THAT(r.queue_length[1], WithinRel(bf.queue_length[0], 1e-11));
    CHECK_THAT(r.queue_length[2], WithinRel(bf.queue_length[1], 1e-11));
    CHECK_THAT(r.queue_length[3], WithinRel(bf.queue_length[2], 1e-11));
  }
}

TEST_CASE("MVA per population and input checks", "[analytic]") {
  // mva_by_population element i is population i + 1, the same numbers mva() gives for that population.
  const std::vector<Station> net{
      {Station::kDelay, 1.0}, {Station::kQueue, 0.3}, {Station::kMultiServer, 0.9, 2}};
  const std::vector<an::MvaResult> all = an::mva_by_population(net, 6);
  REQUIRE(all.size() == 6);
  for (int n = 1; n <= 6; ++n)
    CHECK_THAT(all[n - 1].throughput, WithinRel(an::mva(net, n).throughput, 1e-15));
  CHECK_THROWS_AS(an::mva(net, 0), std::invalid_argument);
  CHECK_THROWS_AS(an::mva({}, 3), std::invalid_argument);
  CHECK_THROWS_AS(an::mva({{Station::kQueue, -1.0}}, 3), std::invalid_argument);
  CHECK_THROWS_AS(an::mva({{Station::kMultiServer, 1.0, 0}}, 3), std::invalid_argument);
  CHECK_THROWS_AS(an::mva({{Station::kDelay, 0.0}}, 3), std::invalid_argument);
}

TEST_CASE("CTMC steady state on chains with known answers", "[analytic]") {
  // Two states, rate a from 0 to 1 and b back: balance a pi0 = b pi1 gives pi = (b, a) / (a + b).
  Eigen::MatrixXd two(2, 2);
  two << -3.0, 3.0, 1.0, -1.0;
  const Eigen::VectorXd p2 = an::ctmc_steady_state(two);
  CHECK_THAT(p2(0), WithinAbs(0.25, 1e-14));
  CHECK_THAT(p2(1), WithinAbs(0.75, 1e-14));

  // M/M/1/K birth-death, lambda = 1, mu = 2, K = 6: pi_k = rho^k (1 - rho) / (1 - rho^(K+1)) with rho = 1/2.
  const int states = 7;
  Eigen::MatrixXd bd = Eigen::MatrixXd::Zero(states, states);
  for (int k = 0; k < states; ++k) {
    if (k + 1 < states) bd(k, k + 1) = 1.0;
    if (k > 0) bd(k, k - 1) = 2.0;
    bd(k, k) = -bd.row(k).sum();
  }
  const Eigen::VectorXd pb = an::ctmc_steady_state(bd);
  for (int k = 0; k < states; ++k) {
    CHECK_THAT(pb(k), WithinAbs(std::pow(0.5, k) * 0.5 / (1.0 - std::pow(0.5, states)), 1e-14));
  }

  // Malformed generators: a row that does not sum to zero, and two absorbing states (no unique solution).
  Eigen::MatrixXd bad(2, 2);
  bad << -1.0, 2.0, 1.0, -1.0;
  CHECK_THROWS_AS(an::ctmc_steady_state(bad), std::invalid_argument);
  CHECK_THROWS_AS(an::ctmc_steady_state(Eigen::MatrixXd::Zero(2, 2)), std::invalid_argument);
  Eigen::MatrixXd split = Eigen::MatrixXd::Zero(4, 4);  // two separate two-state chains: two closed classes
  split.block(0, 0, 2, 2) = two;
  split.block(2, 2, 2, 2) = two;
  CHECK_THROWS_AS(an::ctmc_steady_state(split), std::invalid_argument);
}

TEST_CASE("Closed pool CTMC agrees with MVA", "[analytic]") {
  // Same product-form network solved two independent ways (state enumeration + LU vs the MVA recursion), so
  // the answers must agree to rounding: the brief's cross-check at 1e-9.
  struct Case {
    int n;
    int p;
    double z;
    double s1;
    double s2;
  };
  // Includes P = 1 (plain queue), P >= N (no waiting at the pool) and a saturated pool (P / S2 = 4 < N / Z).
  const std::vector<Case> cases{{1, 1, 1.0, 0.1, 0.5},  {3, 2, 1.0, 0.2, 0.7},   {5, 2, 0.5, 0.05, 0.4},
                                {8, 3, 2.0, 0.1, 1.5},  {12, 4, 1.0, 0.08, 0.9}, {20, 5, 3.0, 0.1, 2.0},
                                {6, 10, 1.0, 0.3, 0.6}, {40, 4, 1.0, 0.01, 1.0}};
  for (const Case& c : cases) {
    INFO("N=" << c.n << " P=" << c.p);
    const an::ClosedPoolResult ctmc = an::closed_pool_ctmc(c.n, c.z, c.s1, c.p, c.s2);
    const an::MvaResult mva =
        an::mva({{Station::kDelay, c.z}, {Station::kQueue, c.s1}, {Station::kMultiServer, c.s2, c.p}}, c.n);
    CHECK(ctmc.states == (c.n + 1) * (c.n + 2) / 2);
    CHECK_THAT(ctmc.throughput, WithinRel(mva.throughput, 1e-9));
    CHECK_THAT(ctmc.response_time, WithinRel(mva.response_time, 1e-9));
    CHECK_THAT(ctmc.cpu_queue_length, WithinRel(mva.queue_length[1], 1e-9));
    CHECK_THAT(ctmc.pool_queue_length, WithinRel(mva.queue_length[2], 1e-9));
  }
  CHECK_THROWS_AS(an::closed_pool_ctmc(99, 1.0, 0.1, 2, 0.5), std::invalid_argument);
  CHECK_THROWS_AS(an::closed_pool_ctmc(3, 0.0, 0.1, 2, 0.5), std::invalid_argument);
}

TEST_CASE("Binomial pmf", "[analytic]") {
  // Hand-worked: P(Bin(4, 1/2) = 2) = 6/16; edges p = 0 and p = 1 are point masses; out of range is 0.
  CHECK_THAT(an::binomial_pmf(2, 4, 0.5), WithinRel(0.375, 1e-13));
  CHECK(an::binomial_pmf(0, 5, 0.0) == 1.0);
  CHECK(an::binomial_pmf(5, 5, 1.0) == 1.0);
  CHECK(an::binomial_pmf(6, 5, 0.3) == 0.0);
  // A pmf sums to 1.
  double sum = 0.0;
  for (int k = 0; k <= 1000; ++k) sum += an::binomial_pmf(k, 1000, 1.0 / 16.0);
  CHECK_THAT(sum, WithinAbs(1.0, 1e-12));
}

TEST_CASE("Max load of balls into bins: exact small cases", "[analytic]") {
  // Hand-worked: 3 balls in 2 bins; of the 8 assignments 2 put all balls together (max 3), 6 split 2-1 (max
  // 2). So P(max = 2) = 3/4, P(max = 3) = 1/4, E[max] = 2.25.
  const std::vector<double> pmf = an::max_load_pmf(3, 2);
  REQUIRE(pmf.size() == 4);
  CHECK_THAT(pmf[2], WithinAbs(0.75, 1e-14));
  CHECK_THAT(pmf[3], WithinAbs(0.25, 1e-14));
  CHECK_THAT(an::expected_max_load(3, 2), WithinAbs(2.25, 1e-14));

  // Brute force over all n^m equally likely assignments.
  for (auto [m, n] :
       std::vector<std::pair<int, int>>{{1, 1}, {4, 1}, {6, 3}, {8, 4}, {5, 5}, {10, 2}, {7, 6}}) {
    INFO("m=" << m << " n=" << n);
    const std::vector<double> exact = brute_force_max_pmf(m, n);
    const std::vector<double> got = an::max_load_pmf(m, n);
    REQUIRE(got.size() == exact.size());
    double mean = 0.0;
    for (std::size_t k = 0; k < exact.size(); ++k) {
      CHECK_THAT(got[k], WithinAbs(exact[k], 1e-13));
      CHECK_THAT(an::max_load_cdf(static_cast<int>(k), m, n),
                 WithinAbs(std::accumulate(exact.begin(), exact.begin() + k + 1, 0.0), 1e-13));
      mean += k * exact[k];
    }
    CHECK_THAT(an::expected_max_load(m, n), WithinAbs(mean, 1e-12));
  }
  // Larger exact cases, counted in big-integer arithmetic (Python: the number of the n^m assignments with
  // every load <= k, by products of exponential generating functions): E[max] for m = 200, n = 8
  // is 32.33646944808076; P(max <= 76) for m = 1000, n = 16 is 0.5154860792644455 and P(max <= 90) is
  // 0.9956776785637235.
  CHECK_THAT(an::expected_max_load(200, 8), WithinRel(32.33646944808076, 1e-13));
  CHECK_THAT(an::max_load_cdf(76, 1000, 16), WithinAbs(0.5154860792644455, 1e-14));
  CHECK_THAT(an::max_load_cdf(90, 1000, 16), WithinAbs(0.9956776785637235, 1e-14));
  // No balls: the maximum is 0 for sure.
  CHECK(an::expected_max_load(0, 8) == 0.0);
  CHECK_THROWS_AS(an::expected_max_load(5, 0), std::invalid_argument);
}

TEST_CASE("Max load of balls into bins: anchors C.4 reference table", "[analytic]") {
  // anchors.md section C.4: Monte Carlo E[max] / (m/n), 400-3000 replications, quoted to 2-4 digits. The
  // exact value must sit within that noise, about 1%.
  struct Row {
    int n;
    int m;
    double ratio;
  };
  const std::vector<Row> table{{4, 100, 1.21},     {4, 1000, 1.066},  {4, 10000, 1.021}, {8, 100, 1.42},
                               {8, 1000, 1.129},   {8, 10000, 1.041}, {16, 100, 1.77},   {16, 1000, 1.229},
                               {16, 10000, 1.072}, {32, 100, 2.32},   {32, 1000, 1.386}, {32, 10000, 1.121},
                               {64, 100, 3.28},    {64, 1000, 1.637}, {64, 10000, 1.193}};
  for (const Row& row : table) {
    INFO("n=" << row.n << " m=" << row.m);
    const double mean = static_cast<double>(row.m) / row.n;
    const double exact = an::expected_max_load(row.m, row.n);
    CHECK_THAT(exact / mean, WithinRel(row.ratio, 0.01));
    // The pmf is a distribution whose mean is the same number.
    const std::vector<double> pmf = an::max_load_pmf(row.m, row.n);
    double total = 0.0;
    double first_moment = 0.0;
    for (std::size_t k = 0; k < pmf.size(); ++k) {
      total += pmf[k];
      first_moment += k * pmf[k];
    }
    CHECK_THAT(total, WithinAbs(1.0, 1e-12));
    CHECK_THAT(first_moment, WithinRel(exact, 1e-12));
  }
  // anchors.md C.4, light load: n = m = 1024 gives a Monte Carlo single-choice maximum of 5.54.
  CHECK_THAT(an::expected_max_load(1024, 1024), WithinRel(5.54, 0.01));
}

TEST_CASE("Raab-Steger envelope", "[analytic]") {
  // anchors.md C.4: for n = 16, m = 1000 the envelope m/n + sqrt(2 (m/n) ln n) is 81.1 against about 76.8
  // exact.
  CHECK_THAT(an::raab_steger_upper(1000, 16), WithinAbs(62.5 + std::sqrt(125.0 * std::log(16.0)), 1e-12));
  CHECK_THAT(an::raab_steger_upper(1000, 16), WithinAbs(81.1, 0.05));
  // It over-predicts at small n in heavy load (the leading term only), so it bounds the exact mean from above
  // there.
  for (int n : {4, 16, 64}) CHECK(an::expected_max_load(10000, n) < an::raab_steger_upper(10000, n));
}

TEST_CASE("Chi-square upper tail", "[analytic]") {
  // Printed critical values (any chi-square table): 3.841 at df 1 and 11.07 at df 5 are the 5% points, 23.21
  // at df 10 the 1% point; the table rounds to 4 digits, hence the 1e-4 tolerance.
  CHECK_THAT(an::chi_square_sf(3.841, 1), WithinAbs(0.05, 1e-4));
  CHECK_THAT(an::chi_square_sf(11.07, 5), WithinAbs(0.05, 1e-4));
  CHECK_THAT(an::chi_square_sf(23.21, 10), WithinAbs(0.01, 1e-4));
  // Closed forms: df = 2 is exponential, sf = exp(-x/2); df = 1 is a squared normal, sf = erfc(sqrt(x/2)).
  // These exercise both the series (x < a + 1) and the continued fraction (x >= a + 1), including a far tail.
  for (double x : {0.1, 1.0, 2.5, 7.0, 40.0, 300.0}) {
    CHECK_THAT(an::chi_square_sf(x, 2), WithinRel(std::exp(-x / 2.0), 1e-12));
    CHECK_THAT(an::chi_square_sf(x, 1), WithinRel(std::erfc(std::sqrt(x / 2.0)), 1e-12));
  }
  // Large df: the median of chi-square(df) is close to df (1 - 2/(9 df))^3, so sf there is about 1/2.
  CHECK_THAT(an::chi_square_sf(1000.0 * std::pow(1.0 - 2.0 / 9000.0, 3), 1000), WithinAbs(0.5, 1e-3));
  CHECK(an::chi_square_sf(0.0, 3) == 1.0);
  CHECK_THROWS_AS(an::chi_square_sf(1.0, 0), std::invalid_argument);
}

TEST_CASE("Chi-square goodness of fit", "[analytic]") {
  // Hand-worked: observed (10, 20) against expected (15, 15) gives 25/15 + 25/15 = 10/3 on 1 degree of
  // freedom, p = erfc(sqrt(10/6)).
  const std::vector<double> obs{10.0, 20.0};
  const std::vector<double> expected{15.0, 15.0};
  CHECK_THAT(an::chi_square_statistic(obs, expected), WithinRel(10.0 / 3.0, 1e-15));
  CHECK_THAT(an::chi_square_p_value(obs, expected), WithinRel(std::erfc(std::sqrt(10.0 / 6.0)), 1e-12));
  // A perfect fit has statistic 0 and p-value 1.
  CHECK(an::chi_square_p_value(expected, expected) == 1.0);
  const std::vector<double> three{1.0, 2.0, 3.0};
  CHECK_THROWS_AS(an::chi_square_p_value(three, expected), std::invalid_argument);
  const std::vector<double> zero{0.0, 30.0};
  CHECK_THROWS_AS(an::chi_square_p_value(obs, zero), std::invalid_argument);
}
