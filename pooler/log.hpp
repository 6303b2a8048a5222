// Logging for rpool: one line per event to stderr or the logfile, and the three error tiers.
#pragma once

#include <string>

namespace rpool {

enum class LogLevel { debug, info, warning, error, fatal };

// Opens the logfile (appending); an empty path keeps stderr. Returns false when the file cannot be opened.
[[nodiscard]] bool log_open(const std::string& path);
void log_set_role(const std::string& role);  // "supervisor", "worker 2": prefixed to every line
void log_set_verbose(bool verbose);

void log_line(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Tier 1: a state the code believes impossible. Log and abort.
[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#define RPOOL_ASSERT(cond, msg)                                                                  \
  do {                                                                                           \
    if (!(cond)) ::rpool::die("assertion failed at %s:%d: %s (%s)", __FILE__, __LINE__, #cond, msg); \
  } while (0)

}  // namespace rpool

#define log_info(...) ::rpool::log_line(::rpool::LogLevel::info, __VA_ARGS__)
#define log_warn(...) ::rpool::log_line(::rpool::LogLevel::warning, __VA_ARGS__)
#define log_error(...) ::rpool::log_line(::rpool::LogLevel::error, __VA_ARGS__)
#define log_debug(...) ::rpool::log_line(::rpool::LogLevel::debug, __VA_ARGS__)
