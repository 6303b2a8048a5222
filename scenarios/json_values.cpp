// Readers for the format's leaf values: durations with units, distributions, IPv4 addresses, typed scalars.
#include <cmath>
#include <limits>

#include "scenarios/json.hpp"
#include "scenarios/json_detail.hpp"

namespace scenarios {
namespace detail {

std::int64_t parse_integer(const json& value, const std::string& where, std::int64_t min, std::int64_t max) {
  std::int64_t n = 0;
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(where, "must be at most " + std::to_string(max) + ", got " + show(value));
    }
    n = static_cast<std::int64_t>(u);
  } else if (value.is_number_integer()) {
    n = value.get<std::int64_t>();
  } else if (value.is_number_float() && std::isfinite(value.get<double>()) &&
             value.get<double>() == std::floor(value.get<double>()) &&
             std::fabs(value.get<double>()) < 9e15) {
    n = static_cast<std::int64_t>(
        value.get<double>());  // 4.0 is an integer written by a tool that knows no better
  } else {
    fail(where, "expected an integer, got " + show(value));
  }
  if (n < min) fail(where, "must be at least " + std::to_string(min) + ", got " + std::to_string(n));
  if (n > max) fail(where, "must be at most " + std::to_string(max) + ", got " + std::to_string(n));
  return n;
}

double parse_number(const json& value, const std::string& where) {
  if (!value.is_number()) fail(where, "expected a number, got " + show(value));
  return value.get<double>();
}

bool parse_bool(const json& value, const std::string& where) {
  if (!value.is_boolean()) fail(where, "expected true or false, got " + show(value));
  return value.get<bool>();
}

std::string parse_string(const json& value, const std::string& where) {
  if (!value.is_string()) fail(where, "expected a string, got " + show(value));
  return value.get<std::string>();
}

std::size_t parse_choice(const json& value, const std::string& where,
                         const std::vector<std::string>& choices) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    for (std::size_t i = 0; i < choices.size(); ++i) {
      if (choices[i] == s) return i;
    }
  }
  std::string message = "expected one of " + quoted_list(choices) + ", got " + show(value);
  if (value.is_string()) message += suggestion(value.get<std::string>(), choices);
  fail(where, message);
}

}  // namespace detail

using detail::fail;
using detail::show;
using nlohmann::json;

namespace {

struct Unit {
  std::string_view name;
  sim::Time ns;
};
constexpr Unit kUnits[] = {
    {"ns", 1},           {"us", sim::kMicrosecond}, {"µs", sim::kMicrosecond}, {"ms", sim::kMillisecond},
    {"s", sim::kSecond}, {"m", 60 * sim::kSecond},  {"h", 3600 * sim::kSecond}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

sim::Time parse_duration(const json& value, const std::string& where) {
  const std::string example = "expected a duration such as \"5ms\", got " + show(value);
  if (!value.is_string()) fail(where, example);
  const auto& s = value.get_ref<const std::string&>();
  if (!s.empty() && s[0] == '-') fail(where, "must not be negative, got " + show(value));
  std::size_t i = 0;
  const std::size_t int_begin = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  const std::string int_part = s.substr(int_begin, i - int_begin);
  std::string frac_part;
  if (i < s.size() && s[i] == '.') {
    const std::size_t frac_begin = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    frac_part = s.substr(frac_begin, i - frac_begin);
  }
  if (int_part.empty() && frac_part.empty()) fail(where, example);
  while (i < s.size() && s[i] == ' ') ++i;
  const std::string unit_name = s.substr(i);
  if (unit_name.empty()) {
    fail(where, "missing a unit in " + show(value) + " (write e.g. \"" + s + "ms\" or \"" + s + "s\")");
  }
  const Unit* unit = nullptr;
  for (const auto& u : kUnits) {
    if (u.name == unit_name) unit = &u;
  }
  if (unit == nullptr)
    fail(where, "unknown unit " + detail::in_quotes(unit_name) + " in " + show(value) +
                    " (use ns, us, ms, s, m or h)");

  // Integer part exactly, fraction through long double: exact to the nanosecond for any sane duration.
  // The cap (about 41 years) leaves room for the sums the simulator forms (warm-up + duration, restart times).
  constexpr sim::Time kMaxDuration = 100'000LL * 3600 * sim::kSecond;
  const std::string too_large = "too large, got " + show(value) + " (at most 100000h)";
  const sim::Time limit = kMaxDuration / unit->ns;
  sim::Time whole = 0;
  for (char c : int_part) {
    if (whole > (limit - (c - '0')) / 10) fail(where, too_large);
    whole = whole * 10 + (c - '0');
  }
  long double fraction = 0;
  if (!frac_part.empty()) fraction = std::stold("0." + frac_part) * static_cast<long double>(unit->ns);
  const long double total = static_cast<long double>(whole * unit->ns) + std::round(fraction);
  if (total > static_cast<long double>(kMaxDuration)) fail(where, too_large);
  return whole * unit->ns + static_cast<sim::Time>(std::llround(fraction));
}

std::string format_duration(sim::Time t) {
  if (t == 0) return "0s";
  constexpr std::pair<std::string_view, sim::Time> kOrder[] = {
      {"h", 3600 * sim::kSecond}, {"m", 60 * sim::kSecond},  {"s", sim::kSecond},
      {"ms", sim::kMillisecond},  {"us", sim::kMicrosecond}, {"ns", 1}};
  for (const auto& [name, ns] : kOrder) {
    if (t % ns == 0) return std::to_string(t / ns) + std::string(name);
  }
  return std::to_string(t) + "ns";
}

namespace {

const std::vector<std::string> kKinds = {"constant", "exponential", "uniform", "lognormal", "empirical"};

sim::Time positive_duration(const json& object, const std::string& key, const std::string& where) {
  const std::string at = detail::child_pointer(where, key);
  if (!object.contains(key)) fail(at, "missing");
  const sim::Time t = parse_duration(object.at(key), at);
  if (t <= 0) fail(at, "must be greater than 0, got " + show(object.at(key)));
  return t;
}

sim::Distribution parse_empirical(const json& object, const std::string& where) {
  const std::string values_at = detail::child_pointer(where, "values");
  if (!object.contains("values")) fail(values_at, "missing");
  const json& values = object.at("values");
  if (!values.is_array() || values.empty())
    fail(values_at, "expected a non-empty array of durations, got " + show(values));
  std::vector<sim::Time> times;
  for (std::size_t i = 0; i < values.size(); ++i)
    times.push_back(parse_duration(values[i], detail::child_pointer(values_at, i)));
  std::vector<double> weights;
  if (object.contains("weights")) {
    const std::string weights_at = detail::child_pointer(where, "weights");
    const json& w = object.at("weights");
    if (!w.is_array()) fail(weights_at, "expected an array of numbers, got " + show(w));
    if (w.size() != values.size()) {
      fail(weights_at,
           "has " + std::to_string(w.size()) + " entries but values has " + std::to_string(values.size()));
    }
    double total = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const std::string at = detail::child_pointer(weights_at, i);
      const double x = detail::parse_number(w[i], at);
      if (!(x >= 0) || !std::isfinite(x)) fail(at, "must be at least 0, got " + show(w[i]));
      weights.push_back(x);
      total += x;
    }
    if (total <= 0) fail(weights_at, "must not all be zero");
    if (!std::isfinite(total)) fail(weights_at, "are too large to add up");
  }
  return sim::Distribution::empirical(std::move(times), std::move(weights));
}

sim::Distribution parse_lognormal(const json& object, const std::string& where) {
  const sim::Time mean = positive_duration(object, "mean", where);
  const bool has_cv = object.contains("cv"), has_p99 = object.contains("p99");
  if (has_cv == has_p99) fail(where, "a lognormal takes \"mean\" and exactly one of \"cv\" or \"p99\"");
  if (has_cv) {
    const std::string at = detail::child_pointer(where, "cv");
    const double cv = detail::parse_number(object.at("cv"), at);
    if (!(cv >= 0)) fail(at, "must be at least 0, got " + show(object.at("cv")));
    // Beyond this the lognormal's mass sits at zero with a tail no simulation run would sample fairly.
    if (!(cv <= 100)) fail(at, "must be at most 100, got " + show(object.at("cv")));
    return sim::Distribution::lognormal_cv(mean, cv);
  }
  const std::string at = detail::child_pointer(where, "p99");
  const sim::Time p99 = parse_duration(object.at("p99"), at);
  if (auto d = sim::Distribution::lognormal_p99(mean, p99)) return *d;
  if (p99 <= mean) {
    fail(at, "no lognormal has mean " + format_duration(mean) + " and p99 " + format_duration(p99) +
                 ": the 99th percentile must be above the mean");
  }
  // The largest p99 / mean a lognormal reaches is exp(z99^2 / 2), at sigma = z99.
  fail(at,
       "no lognormal has mean " + format_duration(mean) + " and p99 " + format_duration(p99) +
           ": p99 / mean is " + std::to_string(static_cast<double>(p99) / static_cast<double>(mean)) +
           ", but a lognormal's cannot exceed about 14.97 (use an empirical distribution for such a tail)");
}

}  // namespace

sim::Distribution parse_distribution(const json& value, const std::string& where) {
  // A bare number is most likely a duration without its unit: say so in the duration's own words.
  if (value.is_string() || value.is_number())
    return sim::Distribution::constant(parse_duration(value, where));
  if (!value.is_object()) {
    fail(where,
         "expected a duration such as \"5ms\" or a distribution object such as {\"kind\": \"exponential\", "
         "\"mean\": \"5ms\"}, got " +
             show(value));
  }
  const std::string kind_at = detail::child_pointer(where, "kind");
  if (!value.contains("kind")) fail(kind_at, "missing (one of " + detail::quoted_list(kKinds) + ")");
  const std::size_t kind = detail::parse_choice(value.at("kind"), kind_at, kKinds);
  static const std::vector<std::vector<std::string>> kKeys = {{"kind", "value"},
                                                              {"kind", "mean"},
                                                              {"kind", "low", "high"},
                                                              {"kind", "mean", "cv", "p99"},
                                                              {"kind", "values", "weights"}};
  detail::check_keys(value, where, kKeys[kind]);
  switch (kind) {
    case 0: {
      const std::string at = detail::child_pointer(where, "value");
      if (!value.contains("value")) fail(at, "missing");
      return sim::Distribution::constant(parse_duration(value.at("value"), at));
    }
    case 1:
      return sim::Distribution::exponential(positive_duration(value, "mean", where));
    case 2: {
      const std::string low_at = detail::child_pointer(where, "low"),
                        high_at = detail::child_pointer(where, "high");
      if (!value.contains("low")) fail(low_at, "missing");
      if (!value.contains("high")) fail(high_at, "missing");
      const sim::Time low = parse_duration(value.at("low"), low_at);
      const sim::Time high = parse_duration(value.at("high"), high_at);
      if (high < low)
        fail(high_at, "must be at least low (" + format_duration(low) + "), got " + show(value.at("high")));
      return sim::Distribution::uniform(low, high);
    }
    case 3:
      return parse_lognormal(value, where);
    default:
      return parse_empirical(value, where);
  }
}

std::uint32_t parse_ipv4(const json& value, const std::string& where) {
  const std::string message = "expected an IPv4 address such as \"10.0.0.1\", got " + show(value);
  if (!value.is_string()) fail(where, message);
  const auto& s = value.get_ref<const std::string&>();
  std::uint32_t address = 0;
  std::size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= s.size() || s[i] != '.') fail(where, message);
      ++i;
    }
    const std::size_t begin = i;
    unsigned part = 0;
    while (i < s.size() && is_digit(s[i]) && i - begin < 3)
      part = part * 10 + static_cast<unsigned>(s[i++] - '0');
    if (i == begin || part > 255) fail(where, message);
    address = (address << 8) | part;
  }
  if (i != s.size()) fail(where, message);
  return address;
}

std::string format_ipv4(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 255) + "." +
         std::to_string((address >> 8) & 255) + "." + std::to_string(address & 255);
}

}  // namespace scenarios
