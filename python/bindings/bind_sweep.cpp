// Sweeps through scenarios::run_sweep, so a Python sweep gives the rows `rpsim sweep` gives.
#include <pybind11/stl.h>

#include "python/bindings/bindings.hpp"
#include "scenarios/sweep.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace rpsim_python {

void bind_sweep(py::module_& m) {
  m.def(
      "sweep",
      [](const std::string& doc_text, const std::vector<std::pair<std::string, std::vector<std::string>>>& axes_text,
         int threads) {
        const json doc = json::parse(doc_text);
        std::vector<scenarios::SweepAxis> axes;
        for (const auto& [path, values] : axes_text) {
          scenarios::SweepAxis axis{path, {}};
          for (const auto& v : values) axis.values.push_back(json::parse(v));
          axes.push_back(std::move(axis));
        }
        std::vector<json> rows;
        {
          py::gil_scoped_release release;
          scenarios::RunOptions options;
          options.threads = threads;
          rows = scenarios::run_sweep(doc, axes, options);
        }
        return json(rows).dump();
      },
      py::arg("doc"), py::arg("axes"), py::arg("threads") = 1,
      "Runs the grid of axes [(dotted path, [value as JSON text, ...]), ...] over a base document (JSON text), the "
      "first axis varying slowest, every point with the base seed. Returns the rows as JSON text.");
  m.def("sweep_columns", &scenarios::sweep_columns, "The figure columns of a sweep row, in order.");
}

}  // namespace rpsim_python
