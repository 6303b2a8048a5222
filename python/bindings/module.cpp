// The private compiled module rpsim._core. Users import the package rpsim, which wraps these functions.
#include "python/bindings/bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() =
      "Private compiled core of rpsim. Scenario documents cross this boundary as JSON text, so that the C++ "
      "scenarios library stays the only reader of the format; use the rpsim package instead.";
  rpsim_python::bind_scenario(m);
  rpsim_python::bind_run(m);
  rpsim_python::bind_sweep(m);
  rpsim_python::bind_analytic(m);
}
