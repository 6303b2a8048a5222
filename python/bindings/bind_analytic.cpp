// Reference answers from models/analytic.hpp that the notebooks draw next to simulated figures.
#include <pybind11/stl.h>

#include "models/analytic.hpp"
#include "python/bindings/bindings.hpp"

namespace py = pybind11;
namespace a = models::analytic;

namespace rpsim_python {

void bind_analytic(py::module_& root) {
  py::module_ m = root.def_submodule("analytic", "Closed-form and exact reference answers (seconds, rates per second).");
  // Balls into bins: m connections hashed uniformly and independently onto n processes.
  m.def("binomial_pmf", &a::binomial_pmf, py::arg("k"), py::arg("n"), py::arg("p"));
  m.def("max_load_cdf", &a::max_load_cdf, py::arg("k"), py::arg("m"), py::arg("n"),
        "P(max load <= k) for m balls in n bins.");
  m.def("max_load_pmf", &a::max_load_pmf, py::arg("m"), py::arg("n"),
        "Element k is P(max load == k), k = 0..m, for m balls in n bins.");
  m.def("expected_max_load", &a::expected_max_load, py::arg("m"), py::arg("n"),
        "E[max load] for m balls in n bins, exact up to rounding.");
  m.def("raab_steger_upper", &a::raab_steger_upper, py::arg("m"), py::arg("n"),
        "m/n + sqrt(2 (m/n) ln n), the heavy-load asymptote.");
  // Queues: NaN when unstable.
  m.def("mm1_mean_wait", &a::mm1_mean_wait, py::arg("lam"), py::arg("mu"));
  m.def("mm1_mean_response", &a::mm1_mean_response, py::arg("lam"), py::arg("mu"));
  m.def("erlang_b", &a::erlang_b, py::arg("servers"), py::arg("offered_load"));
  m.def("erlang_c", &a::erlang_c, py::arg("servers"), py::arg("offered_load"));
  m.def("mmc_mean_wait", &a::mmc_mean_wait, py::arg("lam"), py::arg("mu"), py::arg("servers"));
  m.def("mmc_mean_response", &a::mmc_mean_response, py::arg("lam"), py::arg("mu"), py::arg("servers"));
  m.def(
      "chi_square_p_value",
      [](const std::vector<double>& observed, const std::vector<double>& expected) {
        return a::chi_square_p_value(observed, expected);
      },
      py::arg("observed"), py::arg("expected"), "Pearson's test with bins - 1 degrees of freedom.");
}

}  // namespace rpsim_python
