"""Reference answers the simulator is checked against (models/analytic.hpp), in seconds and rates per second.

Balls into bins is the model of SO_REUSEPORT pinning: m long-lived connections hashed uniformly and independently
onto n processes. Unstable queues give NaN rather than infinity.
"""
from __future__ import annotations

import numpy as np

from ._core import analytic as _a

binomial_pmf = _a.binomial_pmf
max_load_cdf = _a.max_load_cdf
expected_max_load = _a.expected_max_load
raab_steger_upper = _a.raab_steger_upper
mm1_mean_wait = _a.mm1_mean_wait
mm1_mean_response = _a.mm1_mean_response
erlang_b = _a.erlang_b
erlang_c = _a.erlang_c
mmc_mean_wait = _a.mmc_mean_wait
mmc_mean_response = _a.mmc_mean_response


def max_load_pmf(m: int, n: int) -> np.ndarray:
    """Element k is P(max load == k) for m balls in n bins, k = 0..m."""
    return np.asarray(_a.max_load_pmf(m, n))


def chi_square_p_value(observed, expected) -> float:
    """p-value of Pearson's chi-square test with len(observed) - 1 degrees of freedom."""
    return _a.chi_square_p_value(np.asarray(observed, dtype=float).tolist(), np.asarray(expected, dtype=float).tolist())


__all__ = ["binomial_pmf", "max_load_cdf", "max_load_pmf", "expected_max_load", "raab_steger_upper",
           "mm1_mean_wait", "mm1_mean_response", "erlang_b", "erlang_c", "mmc_mean_wait", "mmc_mean_response",
           "chi_square_p_value"]
