// Simulated time: a signed 64-bit count of nanoseconds (about 292 years of range), never a floating-point value.
#pragma once

#include <cstdint>
#include <limits>

namespace sim {

using Time = std::int64_t;

inline constexpr Time kNanosecond = 1;
inline constexpr Time kMicrosecond = 1'000;
inline constexpr Time kMillisecond = 1'000'000;
inline constexpr Time kSecond = 1'000'000'000;
inline constexpr Time kTimeMax = std::numeric_limits<Time>::max();

constexpr Time microseconds(std::int64_t n) { return n * kMicrosecond; }
constexpr Time milliseconds(std::int64_t n) { return n * kMillisecond; }
constexpr Time seconds(std::int64_t n) { return n * kSecond; }

// Conversions for the JSON and Python edges only; inside the engine and models time stays integral.
constexpr double to_seconds(Time t) { return static_cast<double>(t) / static_cast<double>(kSecond); }
constexpr double to_milliseconds(Time t) { return static_cast<double>(t) / static_cast<double>(kMillisecond); }
constexpr double to_microseconds(Time t) { return static_cast<double>(t) / static_cast<double>(kMicrosecond); }
// Rounds to the nearest nanosecond; negative inputs are clamped to zero by callers that need a duration.
constexpr Time from_seconds(double s) {
  return static_cast<Time>(s * static_cast<double>(kSecond) + (s >= 0 ? 0.5 : -0.5));
}

}  // namespace sim
