// `--set path=value` edits of a scenario document, checked against the format's vocabulary before anything
// changes.
#include <algorithm>
#include <optional>

#include "scenarios/json.hpp"
#include "scenarios/json_detail.hpp"

namespace scenarios {
namespace {

using detail::child_pointer;
using detail::fail;
using detail::in_quotes;
using detail::Shape;
using detail::show;
using nlohmann::json;

std::vector<std::string> split_path(const std::string& dotted) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : dotted) {
    if (c == '.') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

std::optional<std::size_t> parse_index(const std::string& segment) {
  if (segment.empty() || segment.size() > 9) return std::nullopt;
  std::size_t n = 0;
  for (char c : segment) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

// An empty container for a missing intermediate of the given shape; values read whole cannot be built
// piecewise.
json empty_for(std::optional<Shape> shape, const std::string& where) {
  if (shape == Shape::kArray) return json::array();
  if (shape == Shape::kObject || shape == Shape::kDistribution) return json::object();
  fail(where, "does not exist yet and is read as a whole value; set it whole instead");
}

}  // namespace

std::string to_json_pointer(const std::string& dotted) {
  if (dotted.empty()) return "";
  std::string pointer = "/";
  for (const auto& part : split_path(dotted)) pointer = child_pointer(pointer, part);
  return pointer;
}

void apply_set(json& doc, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) fail("--set", "expected path=value, got " + in_quotes(assignment));
  // Checked first: a value that is not UTF-8 could never be written back as JSON (the results echo the scenario).
  if (!detail::valid_utf8(assignment)) fail("--set", "is not valid UTF-8: " + in_quotes(assignment));
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;  // bare words such as 30s or cores are strings

  const auto segments = split_path(path);
  for (const auto& s : segments) {
    if (s.empty()) fail("--set", "empty segment in path " + in_quotes(path));
  }
  // Edit a copy so that a failed --set leaves the document as it was.
  json edited = doc.is_null() ? json::object() : doc;
  json* node = &edited;
  std::string pointer = "/";
  std::string generic;  // the node's place in the format, array indices written "*"
  bool whole = false;   // inside a value the format reads whole: only existing elements can be reached
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& seg = segments[i];
    const std::string here = child_pointer(pointer, seg);
    const bool last = i + 1 == segments.size();
    const std::optional<Shape> shape = whole ? std::nullopt : detail::shape_of(generic);
    std::optional<Shape> next_shape;
    std::string next_generic;

    if (!whole && shape == Shape::kObject) {
      if (!node->is_object()) fail(pointer, "expected an object, got " + show(*node));
      const auto keys = known_keys(generic);
      if (std::find(keys.begin(), keys.end(), seg) == keys.end())
        fail(here, "unknown key" + detail::suggestion(seg, keys));
      next_generic = generic + "/" + seg;
      next_shape = detail::shape_of(next_generic);
    } else if (!whole && shape == Shape::kArray) {
      if (!node->is_array()) fail(pointer, "expected an array, got " + show(*node));
      const auto index = parse_index(seg);
      if (!index) fail(here, "expected an array index, got " + in_quotes(seg));
      if (*index > node->size()) {
        fail(here, "index " + seg + " is past the end (there are " + std::to_string(node->size()) +
                       " entries; " + std::to_string(node->size()) + " appends one)");
      }
      if (*index == node->size()) {
        if (value.is_null() && last) fail(here, "does not exist");
        node->push_back(json::object());
      }
      next_generic = generic + "/*";
      next_shape = detail::shape_of(next_generic);
    } else if (!whole && shape == Shape::kDistribution) {
      if (!node->is_object()) {
        fail(pointer, "is " + show(*node) + ", not a distribution object; set it whole, e.g. " +
                          path.substr(0, path.rfind('.')) +
                          "='{\"kind\": \"exponential\", \"mean\": \"1ms\"}'");
      }
      const auto& keys = detail::distribution_keys();
      if (std::find(keys.begin(), keys.end(), seg) == keys.end())
        fail(here, "unknown key" + detail::suggestion(seg, keys));
      whole = true;
    } else {
      // A value read whole (pinning, port_range, assignment): its existing parts may be replaced one at a
      // time.
      whole = true;
      const auto index = parse_index(seg);
      const bool exists =
          (node->is_array() && index && *index < node->size()) || (node->is_object() && node->contains(seg));
      if (!exists)
        fail(here, "does not exist in " + show(*node) + "; set " +
                       in_quotes(path.substr(0, path.rfind('.'))) + " whole");
    }

    if (last) {
      if (value.is_null()) {
        if (node->is_array()) {
          node->erase(*parse_index(seg));
        } else {
          node->erase(seg);
        }
      } else {
        (node->is_array() ? (*node)[*parse_index(seg)] : (*node)[seg]) = value;
      }
      doc = std::move(edited);
      return;
    }
    json& child = node->is_array() ? (*node)[*parse_index(seg)] : (*node)[seg];
    if (child.is_null()) child = empty_for(whole ? std::nullopt : next_shape, here);
    node = &child;
    pointer = here;
    generic = next_generic;
  }
}

}  // namespace scenarios
