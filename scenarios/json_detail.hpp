// Internal helpers shared by the scenario format's source files: the key vocabulary, pointers, typed value
// readers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace scenarios::detail {

using nlohmann::json;

// What the format expects at a generic pointer; kValue covers scalars and arrays that are read whole
// (pinning).
enum class Shape { kObject, kArray, kValue, kDistribution };
[[nodiscard]] std::optional<Shape> shape_of(std::string_view generic_pointer);
// Keys of a distribution object, whatever its kind; each kind accepts a subset.
[[nodiscard]] const std::vector<std::string>& distribution_keys();

[[noreturn]] void fail(const std::string& where, const std::string& message);
[[nodiscard]] std::string child_pointer(const std::string& where, const std::string& key);
[[nodiscard]] std::string child_pointer(const std::string& where, std::size_t index);
// A value as it appeared in the document, shortened for one-line messages.
[[nodiscard]] std::string show(const json& value);
[[nodiscard]] std::string in_quotes(std::string_view text);
// True when `s` is well-formed UTF-8 (JSON strings must be; nlohmann's dump() throws otherwise).
[[nodiscard]] bool valid_utf8(std::string_view s);
// "a", "b" and "c"
[[nodiscard]] std::string quoted_list(const std::vector<std::string>& items);

// The candidate closest to `word` by edit distance (transpositions count once), if it is close enough to be a
// plausible typo rather than a different word.
[[nodiscard]] std::optional<std::string> closest(const std::string& word,
                                                 const std::vector<std::string>& candidates);
// " (did you mean "x"?)" or "" when nothing is close.
[[nodiscard]] std::string suggestion(const std::string& word, const std::vector<std::string>& candidates);
// Throws for the first key (in sorted order) of `object` that is not in `allowed`.
void check_keys(const json& object, const std::string& where, const std::vector<std::string>& allowed);
// Throws unless `value` is an object.
void expect_object(const json& value, const std::string& where);

[[nodiscard]] std::int64_t parse_integer(const json& value, const std::string& where, std::int64_t min,
                                         std::int64_t max);
[[nodiscard]] double parse_number(const json& value, const std::string& where);
[[nodiscard]] bool parse_bool(const json& value, const std::string& where);
[[nodiscard]] std::string parse_string(const json& value, const std::string& where);
// One of `choices`, with a suggestion when the string is a near miss.
[[nodiscard]] std::size_t parse_choice(const json& value, const std::string& where,
                                       const std::vector<std::string>& choices);

}  // namespace scenarios::detail
