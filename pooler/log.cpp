// Logging for rpool: timestamped lines written with one write() so worker lines never interleave.
#include "pooler/log.hpp"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace rpool {
namespace {

int log_fd = 2;
bool verbose_enabled = false;
std::string role_name = "rpool";

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "LOG";
    case LogLevel::warning: return "WARNING";
    case LogLevel::error: return "ERROR";
    case LogLevel::fatal: return "FATAL";
  }
  return "?";
}

void vlog(LogLevel level, const char* fmt, va_list ap) {
  if (level == LogLevel::debug && !verbose_enabled) return;
  char line[2048];
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  gmtime_r(&tv.tv_sec, &t);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC [%d] %s %s: ", t.tm_year + 1900,
                   t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(tv.tv_usec / 1000),
                   static_cast<int>(getpid()), role_name.c_str(), level_name(level));
  if (n < 0) return;
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  if (m < 0) return;
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t ignored = write(log_fd, line, len);
  (void)ignored;
}

}  // namespace

bool log_open(const std::string& path) {
  if (path.empty()) return true;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  log_fd = fd;
  return true;
}

void log_set_role(const std::string& role) { role_name = role; }
void log_set_verbose(bool verbose) { verbose_enabled = verbose; }

void log_line(LogLevel level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(level, fmt, ap);
  va_end(ap);
}

void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(LogLevel::fatal, fmt, ap);
  va_end(ap);
  abort();
}

}  // namespace rpool
