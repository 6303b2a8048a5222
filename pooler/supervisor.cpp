// Supervisor: the only process that forks. Workers start one at a time so listen() order is worker order.
#include "pooler/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "pooler/event_loop.hpp"
#include "pooler/listener.hpp"
#include "pooler/log.hpp"
#include "pooler/shared_stats.hpp"
#include "pooler/worker.hpp"

// An AddressSanitizer build (fuzz/build.sh asan; clang spells the test __has_feature, g++ __SANITIZE_ADDRESS__).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RPOOL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(RPOOL_ASAN)
#define RPOOL_ASAN 1
#endif
#ifdef RPOOL_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace rpool {
namespace {

struct Slot {
  pid_t pid = -1;
  int64_t started_us = 0;
  int restarts = 0;
  int generation = 0;  // workers this slot has had
};

class Supervisor {
 public:
  explicit Supervisor(Config config) : config_(std::move(config)) {}
  int run();

 private:
  pid_t spawn(int index);
  void reap(bool restart);
  void shutdown(int signo);
  void reload();
  void rolling_restart();
  bool wait_for_exit(pid_t pid, double seconds);
  int index_of(pid_t pid) const;

  Config config_;
  SharedBlock* shared_ = nullptr;
  int unix_fd_ = -1;
  std::vector<Slot> slots_;
  std::vector<pid_t> retiring_;  // old workers draining during a rolling restart
  bool stopping_ = false;
};

// Kernel counter of connections the kernel could not migrate when a listener closed (each one was reset).
long migrate_failures() {
  std::ifstream f("/proc/net/netstat");
  std::string names, values;
  while (std::getline(f, names) && std::getline(f, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value)
      if (name == "TCPMigrateReqFailure") return std::stol(value);
  }
  return -1;
}

int Supervisor::index_of(pid_t pid) const {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].pid == pid) return static_cast<int>(i);
  return -1;
}

pid_t Supervisor::spawn(int index) {
  ++slots_[index].generation;
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    log_error("pipe2() failed: %s", strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    log_error("fork() failed: %s", strerror(errno));
    close(pipefd[0]);
    close(pipefd[1]);
    return -1;
  }
  if (pid == 0) {
    close(pipefd[0]);
    int rc = 1;
    {
      Worker worker(config_, index, slots_[index].generation, shared_, unix_fd_);
      rc = worker.run(pipefd[1]);
    }
#ifdef RPOOL_ASAN
    // _exit skips LeakSanitizer's check at exit, and a worker is where connections are allocated and freed:
    // check it here, after the Worker is destroyed (reports go where ASAN_OPTIONS' log_path says).
    __lsan_do_leak_check();
#endif
    _exit(rc);
  }
  close(pipefd[1]);
  // Wait until this worker listens before starting the next: the reuseport group then follows worker order.
  pollfd p{pipefd[0], POLLIN, 0};
  char byte = 0;
  bool ready = poll(&p, 1, 10000) == 1 && read(pipefd[0], &byte, 1) == 1 && byte == 'R';
  close(pipefd[0]);
  if (!ready) {
    log_error("worker %d (pid %d) did not start", index, static_cast<int>(pid));
    return -1;
  }
  slots_[index].pid = pid;
  slots_[index].started_us = EventLoop::now_us();
  log_info("worker %d started, pid %d", index, static_cast<int>(pid));
  return pid;
}

void Supervisor::reap(bool restart) {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    auto it = std::find(retiring_.begin(), retiring_.end(), pid);
    if (it != retiring_.end()) {
      retiring_.erase(it);
      continue;
    }
    int index = index_of(pid);
    if (index < 0) continue;
    slots_[index].pid = -1;
    // Admin queries signal the pids in the shared block; a dead worker's pid must not be signalled after reuse.
    if (shared_->workers[index].pid == pid) shared_->workers[index].pid = 0;
    if (WIFSIGNALED(status))
      log_warn("worker %d (pid %d) killed by signal %d", index, static_cast<int>(pid), WTERMSIG(status));
    else
      log_warn("worker %d (pid %d) exited with status %d", index, static_cast<int>(pid), WEXITSTATUS(status));
    if (!restart || stopping_) continue;
    if (EventLoop::now_us() - slots_[index].started_us < 1000000) sleep(1);  // no tight crash loop
    ++slots_[index].restarts;
    if (spawn(index) < 0) log_error("worker %d could not be restarted; will retry", index);
  }
}

bool Supervisor::wait_for_exit(pid_t pid, double seconds) {
  int64_t deadline = EventLoop::now_us() + static_cast<int64_t>(seconds * 1e6);
  while (EventLoop::now_us() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    usleep(20000);
  }
  return false;
}

void Supervisor::shutdown(int signo) {
  stopping_ = true;
  int forward = signo == SIGTERM ? SIGTERM : SIGQUIT;
  log_info("%s: stopping %zu workers", signo == SIGTERM ? "SIGTERM" : "immediate stop", slots_.size());
  for (auto& s : slots_)
    if (s.pid > 0) kill(s.pid, forward);
  for (pid_t pid : retiring_) kill(pid, forward);
  double grace = (signo == SIGTERM ? config_.shutdown_timeout : 0) + 5;
  for (auto& s : slots_) {
    if (s.pid > 0 && !wait_for_exit(s.pid, grace)) {
      log_warn("worker pid %d did not stop; killing it", static_cast<int>(s.pid));
      kill(s.pid, SIGKILL);
      wait_for_exit(s.pid, 2);
    }
  }
}

void Supervisor::reload() {
  try {
    Config fresh = parse_config_file(config_.path);
    load_auth_file(fresh.auth_file);
    if (fresh.workers != config_.workers) log_warn("reload: 'workers' changes only at a restart");
  } catch (const ConfigError& e) {
    log_error("reload refused: %s", e.what());
    return;
  }
  log_info("SIGHUP: reloading the configuration in every worker");
  for (auto& s : slots_)
    if (s.pid > 0) kill(s.pid, SIGHUP);
}

namespace {
constexpr const char* kMigrateReq = "/proc/sys/net/ipv4/tcp_migrate_req";

// Turns net.ipv4.tcp_migrate_req on for the length of a rolling restart and puts the old value back after it:
// the sysctl belongs to the whole network namespace, so other programs must not find it changed behind them.
class MigrateReqScope {
 public:
  MigrateReqScope() {
    int fd = open(kMigrateReq, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char c = 0;
      if (read(fd, &c, 1) == 1) old_ = c;
      close(fd);
    }
    if (old_ == '1') {
      log_info("net.ipv4.tcp_migrate_req=1 already: queued connections of a closing listener move to the others");
      return;
    }
    if (write_value('1')) {
      changed_ = old_ == '0';
      log_info("net.ipv4.tcp_migrate_req=1 for the restart: queued connections of a closing listener move to the others");
    } else {
      log_warn("could not enable net.ipv4.tcp_migrate_req (%s): queued connections of a closing worker may be reset",
               strerror(errno));
    }
  }
  ~MigrateReqScope() {
    if (changed_ && !write_value(old_)) log_warn("could not restore net.ipv4.tcp_migrate_req=%c (%s)", old_, strerror(errno));
  }
  MigrateReqScope(const MigrateReqScope&) = delete;
  MigrateReqScope& operator=(const MigrateReqScope&) = delete;

 private:
  static bool write_value(char v) {
    int fd = open(kMigrateReq, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = write(fd, &v, 1) == 1;
    close(fd);
    return ok;
  }
  char old_ = 0;
  bool changed_ = false;
};
}  // namespace

void Supervisor::rolling_restart() {
  log_info("rolling restart of %zu workers", slots_.size());
  MigrateReqScope migrate;
  long before = migrate_failures();
  try {
    config_ = parse_config_file(config_.path);  // new workers start with the current file
  } catch (const ConfigError& e) {
    log_error("rolling restart keeps the old configuration: %s", e.what());
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    pid_t old = slots_[i].pid;
    if (old > 0) retiring_.push_back(old);
    // The successor joins the reuseport group before the old listener leaves it, so the port never goes dark.
    if (spawn(static_cast<int>(i)) < 0) log_error("rolling restart: worker %zu did not start", i);
    if (old > 0) {
      kill(old, SIGTERM);
      if (!wait_for_exit(old, config_.shutdown_timeout + 5)) {
        kill(old, SIGKILL);
        wait_for_exit(old, 2);
      }
      retiring_.erase(std::remove(retiring_.begin(), retiring_.end(), old), retiring_.end());
    }
  }
  long after = migrate_failures();
  long resets = (before >= 0 && after >= before) ? after - before : -1;
  shared_->rolling_restart_resets.store(resets);
  shared_->rolling_restarts.fetch_add(1);
  if (!config_.pidfile.empty()) {
    // `rpool --rolling-restart` waits for this file to report the outcome.
    std::ofstream status(config_.pidfile + ".restart");
    status << "resets=" << resets << "\n";
  }
  if (resets >= 0) log_info("rolling restart done: %ld connections reset by the kernel during it", resets);
  else log_info("rolling restart done (the kernel's TCPMigrateReqFailure counter is not available)");
}

int Supervisor::run() {
  log_set_role("supervisor");
  log_set_verbose(config_.verbose);
  if (!config_.pidfile.empty()) {
    std::ofstream pf(config_.pidfile);
    pf << getpid() << "\n";
  }
  shared_ = shared_block_create(config_.workers);
  if (!config_.unix_socket_dir.empty()) {
    unix_fd_ = open_unix_listener(config_.unix_socket_dir, config_.listen_port, config_.listen_backlog);
    if (unix_fd_ < 0) return 1;
  }
  slots_.resize(config_.workers);
  for (int i = 0; i < config_.workers; ++i) {
    if (spawn(i) < 0) {
      shutdown(SIGQUIT);
      return 1;
    }
  }
  log_info("rpool running: %d workers on %s:%d, pool_mode=%s", config_.workers, config_.listen_addr.c_str(),
           config_.listen_port, pool_mode_name(config_.pool_mode));
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR2}) sigaddset(&set, s);
  while (true) {
    timespec timeout{1, 0};
    int signo = sigtimedwait(&set, nullptr, &timeout);
    if (signo < 0) {
      reap(true);  // also retries slots whose restart failed
      for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].pid < 0 && !stopping_) spawn(static_cast<int>(i));
      continue;
    }
    switch (signo) {
      case SIGCHLD: reap(true); break;
      case SIGHUP: reload(); break;
      case SIGUSR2: rolling_restart(); break;
      case SIGTERM:
      case SIGINT:
      case SIGQUIT:
        shutdown(signo);
        if (unix_fd_ >= 0) {
          unlink(unix_socket_path(config_.unix_socket_dir, config_.listen_port).c_str());
          for (size_t i = 0; i < slots_.size(); ++i) {
            std::string dir = worker_unix_dir(config_, static_cast<int>(i));
            unlink(unix_socket_path(dir, config_.listen_port).c_str());
            rmdir(dir.c_str());
          }
        }
        if (!config_.pidfile.empty()) {
          unlink(config_.pidfile.c_str());
          unlink((config_.pidfile + ".restart").c_str());
        }
        log_info("supervisor exits");
        return 0;
      default: break;
    }
  }
}

}  // namespace

int run_supervisor(const Config& config) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);  // inherited by workers, which read theirs through a signalfd
  signal(SIGPIPE, SIG_IGN);
  Supervisor sup(config);
  return sup.run();
}

int signal_supervisor(const Config& config, int signo) {
  if (config.pidfile.empty()) {
    log_error("no pidfile configured: cannot find the running supervisor");
    return 1;
  }
  std::ifstream pf(config.pidfile);
  long pid = 0;
  if (!(pf >> pid) || pid <= 0) {
    log_error("cannot read a pid from %s", config.pidfile.c_str());
    return 1;
  }
  std::string status_path = config.pidfile + ".restart";
  if (signo == SIGUSR2) unlink(status_path.c_str());
  if (kill(static_cast<pid_t>(pid), signo) != 0) {
    log_error("kill(%ld) failed: %s", pid, strerror(errno));
    return 1;
  }
  if (signo != SIGUSR2) return 0;
  // Wait for the supervisor to finish replacing every worker, then report what the kernel reset meanwhile.
  double limit = config.workers * (config.shutdown_timeout + 15);
  for (double waited = 0; waited < limit; waited += 0.1) {
    std::ifstream status(status_path);
    std::string line;
    if (status && std::getline(status, line) && line.rfind("resets=", 0) == 0) {
      long resets = std::stol(line.substr(7));
      if (resets >= 0) std::printf("rpool: rolling restart done: %ld connections reset during it\n", resets);
      else std::printf("rpool: rolling restart done (the kernel does not count reset connections here)\n");
      return 0;
    }
    usleep(100000);
  }
  log_error("rolling restart did not report back within %.0f s", limit);
  return 1;
}

}  // namespace rpool
