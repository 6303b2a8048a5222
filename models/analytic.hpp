// Reference answers the simulator is checked against: queues, MVA, CTMC, balls into bins, chi-square.
#pragma once

#include <span>
#include <vector>

#include <Eigen/Core>

// Everything here takes and returns seconds (or rates per second) as double: these are reference answers for
// tests and users, computed outside the engine, so they use the units people write in papers rather than
// sim::Time.
//
// Error convention, the same for every function:
//  - malformed input (negative rate, zero servers, NaN, mismatched lengths): throws std::invalid_argument;
//  - well-formed but unstable queue (utilisation >= 1): returns a quiet NaN. NaN rather than +infinity
//    because a NaN fails every comparison, so a test that forgets to check stability cannot pass by accident,
//    and a parameter sweep through saturation keeps running instead of stopping at the first unstable point.
namespace models::analytic {

// ---- Open queues ----

// M/M/1 mean time in queue W_q = rho / (mu - lambda), excluding service.
[[nodiscard]] double mm1_mean_wait(double lambda, double mu);
// M/M/1 mean time in system W = 1 / (mu - lambda).
[[nodiscard]] double mm1_mean_response(double lambda, double mu);

// Erlang B (blocking in M/M/c/c) by the recursion B(k) = a B(k-1) / (k + a B(k-1)), which never overflows.
// Defined for any offered load a >= 0, so it never returns NaN.
[[nodiscard]] double erlang_b(int servers, double offered_load);
// Erlang C: probability that an arrival to M/M/c waits. offered_load a = lambda / mu; NaN when a >= c.
[[nodiscard]] double erlang_c(int servers, double offered_load);
// M/M/c mean time in queue W_q = C(c, a) / (c mu - lambda); NaN when lambda >= c mu.
[[nodiscard]] double mmc_mean_wait(double lambda, double mu, int servers);
[[nodiscard]] double mmc_mean_response(double lambda, double mu, int servers);

// ---- Exact MVA for a single-class closed product-form network ----

// demand = visits x mean service time per visit, in seconds. kDelay is an infinite server (think time Z);
// kQueue a single FCFS (exponential) or PS server; kMultiServer `servers` identical servers fed by one FCFS
// queue.
struct MvaStation {
  enum Kind { kDelay, kQueue, kMultiServer } kind;
  double demand;
  int servers = 1;
};

// throughput: system throughput X (cycles per second).
// response_time: time per cycle spent at the non-delay stations, N/X - sum(delay demands) (the interactive
//   response-time law). The cycle time N/X, delay included, is customers / throughput, or the sum of
//   residence_time.
// queue_length, residence_time: per station in input order; queue_length includes customers in service.
struct MvaResult {
  double throughput;
  double response_time;
  std::vector<double> queue_length;
  std::vector<double> residence_time;
};

// Exact MVA at population `customers` (>= 1). Multi-server stations use the load-dependent recursion over the
// marginal probabilities p(j | n); p(0 | n) is taken from the ratio of throughputs with and without the
// station (p(0|n) = p(0|n-1) X(n) / X_without(n)) instead of 1 - sum p(j|n), which cancels catastrophically
// near saturation. The price is one extra MVA per subset of multi-server stations, so at most 10 multi-server
// stations with 1 < servers < customers are accepted (others reduce exactly to kQueue or kDelay and do not
// count).
[[nodiscard]] MvaResult mva(const std::vector<MvaStation>& stations, int customers);
// The same recursion, returning every population: element i is population i + 1 (size == customers).
[[nodiscard]] std::vector<MvaResult> mva_by_population(const std::vector<MvaStation>& stations,
                                                       int customers);

// ---- Continuous-time Markov chains ----

// Stationary distribution pi of an irreducible CTMC: pi Q = 0, sum(pi) = 1, by dense LU with one balance
// equation replaced by the normalisation. Q must be square with non-negative off-diagonal entries and rows
// summing to zero. Cost is cubic in the number of states: fine for a few thousand. Throws
// std::invalid_argument for a malformed generator or one whose solution does not satisfy the balance
// equations (e.g. several closed classes).
[[nodiscard]] Eigen::VectorXd ctmc_steady_state(const Eigen::MatrixXd& generator);

// Throughput (cycles per second), mean response excluding think time, and mean number at CPU and pool.
struct ClosedPoolResult {
  double throughput;
  double response_time;
  double cpu_queue_length;
  double pool_queue_length;
  int states;
};

// The CTMC of N clients cycling think (delay, exponential mean think_mean) -> one FCFS exponential CPU
// (mean cpu_demand) -> one FCFS queue in front of pool_servers exponential servers (mean server_demand) ->
// think. State (at CPU, at pool); (N+1)(N+2)/2 states, so at most 5,000 (N <= 98) to keep the dense solve
// bounded. It is the same network as mva({{kDelay, Z}, {kQueue, S1}, {kMultiServer, S2, P}}, N), solved
// independently.
[[nodiscard]] ClosedPoolResult closed_pool_ctmc(int customers, double think_mean, double cpu_demand,
                                                int pool_servers, double server_demand);

// ---- Balls into bins: m connections thrown uniformly and independently into n processes ----

[[nodiscard]] double binomial_pmf(int k, int n, double p);
// P(max load <= k), exact up to rounding (absolute error ~1e-15).
[[nodiscard]] double max_load_cdf(int k, int m, int n);
// Element k is P(max load == k), k = 0..m. Exact up to rounding (absolute error ~1e-15 per entry).
[[nodiscard]] std::vector<double> max_load_pmf(int m, int n);
// E[max load] = sum_k (1 - P(max <= k)). Exact up to rounding; about 50 ms at m = 10,000.
[[nodiscard]] double expected_max_load(int m, int n);
// m/n + sqrt(2 (m/n) ln n): the heavy-load asymptote of Raab & Steger, an upper envelope at small n.
[[nodiscard]] double raab_steger_upper(int m, int n);

// ---- Chi-square goodness of fit ----

// Upper tail P(X > x) of the chi-square distribution with df degrees of freedom: Q(df/2, x/2).
[[nodiscard]] double chi_square_sf(double x, int df);
// Pearson's statistic sum (o - e)^2 / e. expected are counts with the same total as observed, all > 0.
[[nodiscard]] double chi_square_statistic(std::span<const double> observed, std::span<const double> expected);
// p-value of Pearson's test with bins - 1 degrees of freedom (no parameters estimated from the data).
[[nodiscard]] double chi_square_p_value(std::span<const double> observed, std::span<const double> expected);

}  // namespace models::analytic
