// The areas of the _core module, each bound in its own bind_*.cpp; module.cpp calls them in order.
#pragma once

#include <pybind11/pybind11.h>

namespace rpsim_python {

// ScenarioError first: the other areas' functions raise it.
void bind_scenario(pybind11::module_& m);
void bind_run(pybind11::module_& m);
void bind_sweep(pybind11::module_& m);
void bind_analytic(pybind11::module_& m);

}  // namespace rpsim_python
