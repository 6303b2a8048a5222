// Scenario documents: the default, files, --set edits, validation, and ScenarioError as a Python exception.
#include <pybind11/stl.h>

#include "python/bindings/bindings.hpp"
#include "scenarios/json.hpp"
#include "scenarios/spec.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace rpsim_python {

void bind_scenario(py::module_& m) {
  // A ValueError subclass, so that code catching bad values in general catches bad scenarios too. Instances carry
  // .path (a JSON pointer such as /pooler/processes, a file name, or "--set") and .message (the problem alone).
  // The handle is released on purpose: a static py::object would be destroyed after the interpreter is gone.
  static PyObject* error_type = py::exception<scenarios::ScenarioError>(m, "ScenarioError", PyExc_ValueError).release().ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const scenarios::ScenarioError& e) {
      const std::string what = e.what();
      const std::string& path = e.path();
      const std::string message = what.rfind(path + ": ", 0) == 0 ? what.substr(path.size() + 2) : what;
      py::object error = py::reinterpret_borrow<py::object>(error_type)(what);
      error.attr("path") = path;
      error.attr("message") = message;
      PyErr_SetObject(error_type, error.ptr());
    }
  });

  m.def("default_scenario_json", [] { return scenarios::default_scenario_json().dump(); },
        "The embedded default scenario (what `rpsim run` uses when given no file), as JSON text.");
  m.def("load_json_file", [](const std::string& path) { return scenarios::load_json_file(path).dump(); },
        py::arg("path"),
        "Reads a scenario file as JSON text without validating it. Raises ScenarioError for an unreadable or "
        "malformed file (path 'file:line:column').");
  m.def(
      "apply_set",
      [](const std::string& doc_text, const std::string& assignment) {
        json doc = json::parse(doc_text);
        scenarios::apply_set(doc, assignment);
        return doc.dump();
      },
      py::arg("doc"), py::arg("assignment"),
      "Applies one `--set path=value` edit (the CLI's rules) to a JSON document and returns the edited text.");
  m.def("to_json_pointer", &scenarios::to_json_pointer, py::arg("dotted"),
        "'clients.0.count' -> '/clients/0/count'.");
  m.def(
      "parse_duration",
      [](const std::string& text, const std::string& where) { return scenarios::parse_duration(json(text), where); },
      py::arg("text"), py::arg("where") = "duration", "A duration string such as '250us' in integer nanoseconds.");
  m.def("format_duration", &scenarios::format_duration, py::arg("ns"),
        "Integer nanoseconds as the format writes them ('1500ms' -> '1500ms', 2e9 -> '2s').");
  m.def(
      "validate",
      [](const std::string& doc_text) {
        const json doc = json::parse(doc_text);
        scenarios::Scenario s;
        {
          py::gil_scoped_release release;
          s = scenarios::parse_scenario(doc);
        }
        const auto& w = s.world;
        py::dict info;
        info["name"] = s.name;
        info["description"] = s.description;
        info["duration_ns"] = s.run.duration;
        info["warmup_ns"] = s.run.warmup;
        info["seed"] = s.run.seed;
        info["replications"] = s.run.replications;
        info["processes"] = w.pooler.processes * w.pooler.pods;
        int clients = 0;
        for (const auto& g : w.clients) clients += g.count;
        info["clients"] = clients;
        info["timeseries_interval_ns"] = w.timeseries_interval;
        return info;
      },
      py::arg("doc"),
      "Validates a scenario document (JSON text) as `rpsim check` does and returns a few of its figures. Raises "
      "ScenarioError naming the JSON pointer of the first problem.");
  m.def("known_keys", &scenarios::known_keys, py::arg("generic_pointer"),
        "Keys an object of the format may hold at a generic pointer such as '/pooler' or '/clients/*'.");
}

}  // namespace rpsim_python
