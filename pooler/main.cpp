// rpool's command line: check or run a configuration, or signal a running supervisor.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <cstring>
#include <string>

#include "pooler/config.hpp"
#include "pooler/log.hpp"
#include "pooler/supervisor.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: rpool [options] CONFIG.ini\n"
               "  -v                  verbose logging\n"
               "  -d, --daemon        run in the background (set logfile: stderr is closed)\n"
               "  -t, --check         check the configuration and exit\n"
               "  -R, --rolling-restart  replace the workers of the running rpool one by one\n"
               "      --reload        make the running rpool reload its configuration\n"
               "      --stop          stop the running rpool (SIGTERM: clients may finish)\n"
               "      --version\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  bool verbose = false, check = false, daemon = false;
  int send_signal = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-v") verbose = true;
    else if (a == "-d" || a == "--daemon") daemon = true;
    else if (a == "-t" || a == "--check") check = true;
    else if (a == "-R" || a == "--rolling-restart") send_signal = SIGUSR2;
    else if (a == "--reload") send_signal = SIGHUP;
    else if (a == "--stop") send_signal = SIGTERM;
    else if (a == "--version") {
      std::puts("rpool 0.1");
      return 0;
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "rpool: unknown option %s\n", a.c_str());
      usage();
      return 2;
    } else if (path.empty()) {
      path = a;
    } else {
      usage();
      return 2;
    }
  }
  if (path.empty()) {
    usage();
    return 2;
  }
  rpool::Config config;
  try {
    config = rpool::parse_config_file(path);
    rpool::load_auth_file(config.auth_file);
  } catch (const rpool::ConfigError& e) {
    std::fprintf(stderr, "rpool: %s\n", e.what());
    return 2;
  }
  if (verbose) config.verbose = true;
  if (check) {
    std::printf("rpool: %s is valid (%d workers, %zu databases)\n", path.c_str(), config.workers,
                config.databases.size());
    return 0;
  }
  if (send_signal != 0) return rpool::signal_supervisor(config, send_signal);
  if (!rpool::log_open(config.logfile)) {
    std::fprintf(stderr, "rpool: cannot open logfile %s: %s\n", config.logfile.c_str(), std::strerror(errno));
    return 1;
  }
  if (daemon) {
    // Detach as PgBouncer's -d does: the parent returns at once, the child leads a new session.
    pid_t pid = fork();
    if (pid < 0) {
      std::fprintf(stderr, "rpool: fork() failed: %s\n", std::strerror(errno));
      return 1;
    }
    if (pid > 0) return 0;
    setsid();
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      if (!config.logfile.empty()) dup2(null_fd, 2);
      if (null_fd > 2) close(null_fd);
    }
  }
  return rpool::run_supervisor(config);
}
