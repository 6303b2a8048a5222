// A worker process: opens its own SO_REUSEPORT listener, accepts clients and runs their pools on one event loop.
#include "pooler/worker.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "pooler/auth.hpp"
#include "pooler/cancel.hpp"
#include "pooler/client_conn.hpp"
#include "pooler/listener.hpp"
#include "pooler/log.hpp"
#include "pooler/pool.hpp"
#include "pooler/protocol.hpp"
#include "pooler/server_conn.hpp"

namespace rpool {

namespace {

class ListenHandler : public IoHandler {
 public:
  ListenHandler(Worker& worker, int fd, bool is_unix) : worker_(worker), fd_(fd), is_unix_(is_unix) {}
  void on_io(uint32_t) override { worker_.on_accept(fd_, is_unix_); }

 private:
  Worker& worker_;
  int fd_;
  bool is_unix_;
};

// A worker's own fd (its signalfd, its admin timer) whose readiness calls one of its member functions.
class WorkerFdHandler : public IoHandler {
 public:
  WorkerFdHandler(Worker& worker, void (Worker::*on_ready)()) : worker_(worker), on_ready_(on_ready) {}
  void on_io(uint32_t) override { (worker_.*on_ready_)(); }

 private:
  Worker& worker_;
  void (Worker::*on_ready_)();
};

}  // namespace

std::string worker_private_socket(int port, int index, int generation) {
  return "@rpool-" + std::to_string(port) + "-w" + std::to_string(index) + "-g" + std::to_string(generation & 3);
}

std::string worker_unix_dir(const Config& config, int index) {
  return config.unix_socket_dir + "/rpool-" + std::to_string(config.listen_port) + "-w" + std::to_string(index);
}

Worker::Worker(Config config, int index, int generation, SharedBlock* shared, int shared_unix_fd)
    : config_(std::move(config)), index_(index), generation_(generation), shared_(shared),
      shared_unix_fd_(shared_unix_fd) {}

int Worker::run(int ready_fd) {
  log_set_role("worker " + std::to_string(index_));
  log_set_verbose(config_.verbose);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // Its own session: with sched_autogroup each session is one scheduling entity, and N workers should compete
  // for CPU as N independent poolers would, not as one share split N ways. The supervisor still signals them.
  if (setsid() < 0) log_warn("setsid() failed: %s", strerror(errno));
  started_unix_ = static_cast<int64_t>(time(nullptr));
  if (!config_.cpu_affinity.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(config_.cpu_affinity[index_], &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
      log_warn("sched_setaffinity(cpu %d) failed: %s", config_.cpu_affinity[index_], strerror(errno));
  }
  try {
    users_ = load_auth_file(config_.auth_file);
  } catch (const ConfigError& e) {
    log_error("%s", e.what());
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1}) sigaddset(&set, s);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    log_error("signalfd failed: %s", strerror(errno));
    return 1;
  }
  handlers_.push_back(std::make_unique<WorkerFdHandler>(*this, &Worker::on_signal));
  loop_.add(signal_fd_, EPOLLIN, handlers_.back().get());
  // Answers the admin console kAdminGatherUs after a query instead of at the next tick; without it (timerfd
  // failed) the tick still answers.
  admin_timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (admin_timer_fd_ >= 0) {
    handlers_.push_back(std::make_unique<WorkerFdHandler>(*this, &Worker::on_admin_timer));
    loop_.add(admin_timer_fd_, EPOLLIN, handlers_.back().get());
  } else {
    log_warn("timerfd_create failed: %s; the admin console answers on the 100 ms tick", strerror(errno));
  }

  tcp_fd_ = open_reuseport_listener(config_.listen_addr, config_.listen_port, config_.listen_backlog);
  if (tcp_fd_ < 0) return 1;
  listen_on(tcp_fd_, EPOLLIN, false);
  if (shared_unix_fd_ >= 0) listen_on(shared_unix_fd_, EPOLLIN | EPOLLEXCLUSIVE, true);
  open_private_socket();
  if (!config_.unix_socket_dir.empty()) {
    std::string dir = worker_unix_dir(config_, index_);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) log_warn("mkdir(%s) failed: %s", dir.c_str(), strerror(errno));
    // Binding replaces the file of a predecessor still draining in a rolling restart; its own fd keeps working.
    worker_unix_fd_ = open_unix_listener(dir, config_.listen_port, config_.listen_backlog);
    if (worker_unix_fd_ >= 0) listen_on(worker_unix_fd_, EPOLLIN, true);
  }

  if (!hold_spare_fd()) log_warn("open(/dev/null) failed: %s", strerror(errno));
  check_command();  // a worker started during a PAUSE is paused too
  char ready = 'R';
  if (write(ready_fd, &ready, 1) != 1) log_warn("write() to the supervisor's ready pipe failed: %s", strerror(errno));
  close(ready_fd);
  log_info("listening on %s:%d (SO_REUSEPORT)%s", config_.listen_addr.c_str(), config_.listen_port,
           shared_unix_fd_ >= 0 ? " and the shared unix socket" : "");
  publish_stats();
  loop_.run(100, [this] { janitor_tick(); }, [this] { free_closed(); });
  log_info("worker exits");
  return 0;
}

void Worker::open_private_socket() {
  if (private_fd_ >= 0) return;
  // While a predecessor drains in a rolling restart it still holds the name; retried by the janitor.
  private_fd_ =
      open_abstract_listener(worker_private_socket(config_.listen_port, index_, generation_).substr(1), true);
  if (private_fd_ >= 0) listen_on(private_fd_, EPOLLIN, true);
}

void Worker::listen_on(int fd, uint32_t events, bool is_unix) {
  handlers_.push_back(std::make_unique<ListenHandler>(*this, fd, is_unix));
  listeners_.push_back({fd, events, handlers_.back().get()});
  if (accepting_) loop_.add(fd, events, handlers_.back().get());
}

void Worker::set_accepting(bool on) {
  if (accepting_ == on) return;
  accepting_ = on;
  // Removed and added again rather than modified: EPOLLEXCLUSIVE registrations cannot be modified.
  for (const Listener& l : listeners_) {
    if (on) loop_.add(l.fd, l.events, l.handler);
    else loop_.remove(l.fd);
  }
}

void Worker::on_accept(int listen_fd, bool is_unix) {
  for (int i = 0; i < 64; ++i) {  // several clients may be queued; take them in one wake-up
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      int err = errno;
      if (err == ECONNABORTED) continue;
      if (err == EMFILE || err == ENFILE) return refuse_at_fd_limit(listen_fd, err);
      log_error("accept4() failed: %s", strerror(err));
      return;
    }
    if (!is_unix) set_nodelay(fd);
    ++accepted_;
    auto* client = new ClientConn(*this, fd, is_unix);
    clients_.insert(client);
  }
}

// A connection taken with the spare descriptor at the fd limit. It is told 53300 once its startup packet is in:
// libpq asks for SSL first and shows no error text given in answer to that (nor data sent after the "N" before
// it asked), so the request gets its "N" and the error answers the startup packet, as Postgres does it.
class Worker::Refusal : public IoHandler {
 public:
  Refusal(Worker& worker, int fd) : worker_(worker), fd_(fd), started_us_(EventLoop::now_us()) {}
  int fd() const { return fd_; }
  int64_t started_us() const { return started_us_; }

  void on_io(uint32_t) override {
    char buf[4096];
    bool gone = false;
    for (int i = 0; i < 16; ++i) {  // bounded: a peer that keeps sending must not hold the loop
      ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0 && in_.size() < 64 * 1024) in_.append(buf, static_cast<size_t>(n));
      if (n > 0) continue;
      gone = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      break;
    }
    while (in_.size() >= 8) {
      uint32_t len = pg::read_u32(in_.data());
      uint32_t code = pg::read_u32(in_.data() + 4);
      if (len != 8 || (code != pg::kSslRequestCode && code != pg::kGssEncRequestCode)) break;
      in_.erase(0, 8);
      if (send(fd_, "N", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) gone = true;
    }
    if (in_.size() >= 8) worker_.end_refusal(true);  // a startup packet (or anything else): answer it
    else if (gone) worker_.end_refusal(false);
  }

 private:
  Worker& worker_;
  int fd_;
  int64_t started_us_;
  std::string in_;
};

// Here, where Refusal is complete. Connections still open when the loop ends are the worker's to free: a server
// still logging in when a drain ended (hardening/asan/pooler/lifecycle caught one leaking, 1 run in 4), or a
// client that the shutdown timeout cut off. Their destructors only close their sockets.
Worker::~Worker() {
  free_closed();
  for (ServerConn* s : servers_) delete s;
  for (ClientConn* c : clients_) delete c;
}

void Worker::refuse_at_fd_limit(int listen_fd, int accept_errno) {
  // A connection left in the listen queue would wake the level-triggered loop again at once (a busy loop) and
  // its client would wait unanswered. So give up the spare descriptor, take the connection and refuse it with
  // an error. Until that refusal is over and the spare is back, the listeners are off; one at a time.
  int64_t now = EventLoop::now_us();
  if (now - fd_limit_logged_us_ >= 1000000) {  // one line a second, not one per wake-up
    log_error("accept4() failed: %s; %llu connections refused with 53300 since the last report",
              strerror(accept_errno), static_cast<unsigned long long>(fd_limit_refused_));
    fd_limit_logged_us_ = now;
    fd_limit_refused_ = 0;
  }
  set_accepting(false);
  if (refusal_) return;
  if (!hold_spare_fd()) return;  // the janitor tries again
  ::close(spare_fd_);
  spare_fd_ = -1;
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (hold_spare_fd()) set_accepting(true);
    return;
  }
  ++fd_limit_refused_;
  refusal_ = std::make_unique<Refusal>(*this, fd);
  loop_.add(fd, EPOLLIN | EPOLLRDHUP, refusal_.get());
}

bool Worker::hold_spare_fd() {
  if (spare_fd_ < 0) spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return spare_fd_ >= 0;
}

void Worker::end_refusal(bool tell) {
  if (!refusal_) return;
  int fd = refusal_->fd();
  if (tell) {
    std::string msg = pg::error_response("FATAL", "53300", "no more connections allowed (too many open files)");
    ssize_t ignored = send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  }
  loop_.remove(fd);
  ::close(fd);
  ended_refusals_.push_back(std::move(refusal_));  // freed after the batch: its on_io may be the caller
  if (hold_spare_fd()) set_accepting(true);
}

void Worker::refusal_tick(int64_t now_us) {
  // A client that sends nothing is answered anyway after a second; the listeners wait for it meanwhile.
  if (refusal_ && now_us - refusal_->started_us() > 1000000) end_refusal(true);
  if (!refusal_ && !accepting_ && !shutting_down_ && hold_spare_fd()) set_accepting(true);
}

void Worker::on_admin_timer() {
  uint64_t expirations = 0;
  if (read(admin_timer_fd_, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
    log_warn("read() of the admin timer failed: %s", strerror(errno));
  answer_admins(EventLoop::now_us());
}

void Worker::on_signal() {
  signalfd_siginfo info{};
  while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    switch (info.ssi_signo) {
      case SIGHUP: reload(); break;
      case SIGUSR1:
        check_command();
        publish_stats();
        break;
      case SIGTERM: request_shutdown("SIGTERM"); break;
      case SIGINT:
      case SIGQUIT:
        log_info("immediate shutdown (signal %u)", info.ssi_signo);
        loop_.stop();
        break;
      default: break;
    }
  }
}

const std::string* Worker::user_secret(const std::string& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

Pool* Worker::pool_for(const DatabaseEntry& entry, const std::string& client_db, const std::string& client_user,
                       std::string* error) {
  std::string server_user = entry.user.empty() ? client_user : entry.user;
  for (const auto& p : pools_)
    if (p->database() == client_db && p->server_user() == server_user) return p.get();
  std::string password = entry.user.empty() ? "" : entry.password;
  if (password.empty()) {
    if (const std::string* s = user_secret(server_user)) password = *s;
  }
  if (pools_.size() >= static_cast<size_t>(kMaxPoolRows)) {
    *error = "too many pools in one worker";
    return nullptr;
  }
  std::string dbname = entry.dbname.empty() ? client_db : entry.dbname;
  pools_.push_back(std::make_unique<Pool>(*this, entry, client_db, server_user, password, dbname));
  return pools_.back().get();
}

void Worker::server_created(ServerConn* server) { servers_.insert(server); }

void Worker::client_closed(ClientConn* client) {
  admin_waiting_.erase(std::remove(admin_waiting_.begin(), admin_waiting_.end(), client), admin_waiting_.end());
  if (clients_.erase(client)) closed_clients_.push_back(client);
}

void Worker::defer_admin(ClientConn* client) {
  if (admin_waiting_.empty()) {
    admin_asked_us_ = EventLoop::now_us();
    signal_other_workers();
    if (admin_timer_fd_ >= 0) {
      itimerspec when{};
      when.it_value.tv_nsec = kAdminGatherUs * 1000;
      if (timerfd_settime(admin_timer_fd_, 0, &when, nullptr) != 0)
        log_warn("timerfd_settime failed: %s", strerror(errno));
    }
  }
  admin_waiting_.push_back(client);
}

void Worker::broadcast_command(Command kind, const std::string& db) {
  copy_text(shared_->command_db, db);
  shared_->command_kind.store(static_cast<int32_t>(kind));
  shared_->command_seq.fetch_add(1, std::memory_order_acq_rel);
  check_command();
  signal_other_workers();
}

// SIGUSR1 to every other live worker: each applies the mailbox (check_command) and publishes its figures.
void Worker::signal_other_workers() {
  for (int i = 0; i < shared_->n_workers; ++i) {
    int32_t pid = shared_->workers[i].pid;
    if (i != index_ && pid > 0) kill(pid, SIGUSR1);
  }
}

void Worker::check_command() {
  uint64_t seq = shared_->command_seq.load(std::memory_order_acquire);
  if (seq == command_seen_) return;
  command_seen_ = seq;
  apply_command(static_cast<Command>(shared_->command_kind.load()), std::string(shared_->command_db));
}

void Worker::apply_command(Command kind, const std::string& db) {
  auto matches = [&](const Pool& p) { return db.empty() || p.database() == db; };
  switch (kind) {
    case Command::pause:
      paused_ = true;
      paused_db_ = db;
      log_info("PAUSE %s: servers close as their clients release them", db.empty() ? "(all)" : db.c_str());
      for (const auto& p : pools_)
        if (matches(*p)) p->close_idle_servers();
      break;
    case Command::resume:
      paused_ = false;
      paused_db_.clear();
      log_info("RESUME");
      break;
    case Command::reconnect:
      for (const auto& p : pools_)
        if (matches(*p)) p->reconnect();
      break;
    case Command::kill: {
      std::vector<ClientConn*> victims;
      for (ClientConn* c : clients_)
        if (c->pool() && matches(*c->pool())) victims.push_back(c);
      for (ClientConn* c : victims) c->fail("08P01", "admin forced disconnect (KILL)");
      for (const auto& p : pools_)
        if (matches(*p)) p->close_idle_servers();
      break;
    }
    case Command::none: break;
  }
}

bool Worker::pause_done() const {
  if (!paused_) return false;
  for (const auto& p : pools_)
    if ((paused_db_.empty() || p->database() == paused_db_) && p->sv_total() > 0) return false;
  return true;
}

void Worker::server_closed(ServerConn* server) {
  if (servers_.erase(server)) closed_servers_.push_back(server);
}

int Worker::step(int timeout_ms) {
  int n = loop_.poll_once(timeout_ms);
  free_closed();
  return n;
}

void Worker::free_closed() {
  ended_refusals_.clear();
  for (ClientConn* c : closed_clients_) delete c;
  closed_clients_.clear();
  for (ServerConn* s : closed_servers_) delete s;
  closed_servers_.clear();
}

void Worker::assign_cancel_key(ClientConn* client, uint32_t* pid, uint32_t* key) {
  uint32_t serial = next_cancel_serial_++ & 0xFFFFF;
  if (serial == 0) serial = next_cancel_serial_++ & 0xFFFFF;
  *pid = (static_cast<uint32_t>(index_ + 1) << 22) | (static_cast<uint32_t>(generation_ & 3) << 20) | serial;
  std::string r = auth::random_bytes(4);
  *key = pg::read_u32(r.data());
  cancel_keys_[(static_cast<uint64_t>(*pid) << 32) | *key] = client;
}

void Worker::forget_cancel_key(uint32_t pid, uint32_t key) {
  cancel_keys_.erase((static_cast<uint64_t>(pid) << 32) | key);
}

void Worker::handle_cancel(uint32_t pid, uint32_t key) {
  int owner = worker_of_cancel_pid(pid);
  int generation = generation_of_cancel_pid(pid);
  if (owner == index_ && generation == (generation_ & 3)) {
    auto it = cancel_keys_.find((static_cast<uint64_t>(pid) << 32) | key);
    if (it == cancel_keys_.end()) {
      log_info("cancel request with an unknown key ignored");
      return;
    }
    ServerConn* server = it->second->server();
    if (!server || server->state() != ServerConn::State::active) return;  // nothing running: nothing to cancel
    const DatabaseEntry& e = server->pool().entry();
    log_info("cancel request for server %u sent to Postgres", server->backend_pid());
    CancelConn::send(loop_, e.host, e.port, server->backend_pid(), server->backend_key());
    return;
  }
  if (owner < 0 || owner >= shared_->n_workers) {
    log_info("cancel request for unknown worker %d ignored", owner);
    return;
  }
  log_info("cancel request forwarded to worker %d", owner);
  CancelConn::send(loop_, worker_private_socket(config_.listen_port, owner, generation), 0, pid, key);
}

uint64_t Worker::total_xacts() const {
  uint64_t n = 0;
  for (const auto& p : pools_) n += p->counters().xact_count;
  return n;
}

void Worker::stop_listening() {
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [&](const Listener& l) { return l.fd != private_fd_; }),
                   listeners_.end());
  if (tcp_fd_ >= 0) {
    loop_.remove(tcp_fd_);
    close(tcp_fd_);  // leaves the reuseport group; the kernel sends new clients to the other workers
    tcp_fd_ = -1;
  }
  if (shared_unix_fd_ >= 0) {
    loop_.remove(shared_unix_fd_);
    close(shared_unix_fd_);
    shared_unix_fd_ = -1;
  }
  if (worker_unix_fd_ >= 0) {
    loop_.remove(worker_unix_fd_);
    close(worker_unix_fd_);
    worker_unix_fd_ = -1;
  }
}

void Worker::request_shutdown(const char* why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_deadline_us_ = EventLoop::now_us() + static_cast<int64_t>(config_.shutdown_timeout * 1e6);
  log_info("%s: stop accepting, waiting up to %.0f s for %d clients", why, config_.shutdown_timeout, client_count());
  stop_listening();
  for (const auto& p : pools_) p->close_idle_servers();
}

void Worker::reload() {
  Config fresh;
  std::map<std::string, std::string> users;
  try {
    fresh = parse_config_file(config_.path);
    users = load_auth_file(fresh.auth_file);
  } catch (const ConfigError& e) {
    log_error("reload failed, keeping the old configuration: %s", e.what());
    return;
  }
  // Keys that need a restart keep their running values.
  fresh.listen_addr = config_.listen_addr;
  fresh.listen_port = config_.listen_port;
  fresh.unix_socket_dir = config_.unix_socket_dir;
  fresh.logfile = config_.logfile;
  fresh.pidfile = config_.pidfile;
  fresh.workers = config_.workers;
  fresh.cpu_affinity = config_.cpu_affinity;
  fresh.listen_backlog = config_.listen_backlog;
  config_ = std::move(fresh);
  users_ = std::move(users);
  for (const auto& p : pools_) {
    if (const DatabaseEntry* e = config_.find_database(p->database())) p->update_entry(*e);
  }
  log_set_verbose(config_.verbose);
  log_info("configuration reloaded");
}

}  // namespace rpool
