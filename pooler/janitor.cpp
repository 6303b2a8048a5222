// The worker's periodic duties: timeouts, pool maintenance, shutdown progress and publishing figures.
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <vector>

#include "pooler/admin.hpp"
#include "pooler/cancel.hpp"
#include "pooler/client_conn.hpp"
#include "pooler/listener.hpp"
#include "pooler/log.hpp"
#include "pooler/pool.hpp"
#include "pooler/server_conn.hpp"
#include "pooler/worker.hpp"

namespace rpool {

void Worker::janitor_tick() {
  int64_t now = EventLoop::now_us();
  for (const auto& p : pools_) p->janitor(now);
  if (stats_period_start_us_ == 0) stats_period_start_us_ = now;
  if (now - stats_period_start_us_ >= static_cast<int64_t>(config_.stats_period * 1e6)) {
    double seconds = static_cast<double>(now - stats_period_start_us_) / 1e6;
    for (const auto& p : pools_) p->roll_stats_period(seconds);
    stats_period_start_us_ = now;
  }

  std::vector<ClientConn*> expired;
  std::vector<ClientConn*> stalled;
  int64_t write_limit = static_cast<int64_t>(config_.client_write_timeout * 1e6);
  int64_t login_limit = static_cast<int64_t>(config_.client_login_timeout * 1e6);
  int64_t idle_limit = static_cast<int64_t>(config_.client_idle_timeout * 1e6);
  for (ClientConn* c : clients_) {
    bool logging_in = c->state() == ClientConn::State::startup || c->state() == ClientConn::State::auth;
    if (logging_in && login_limit > 0 && now - c->created_us() > login_limit) expired.push_back(c);
    else if (c->state() == ClientConn::State::ready && !c->server() && !c->waiting() && idle_limit > 0 &&
             now - c->last_active_us() > idle_limit)
      expired.push_back(c);
    else if (c->write_stalled(now, write_limit))
      stalled.push_back(c);
  }
  for (ClientConn* c : stalled) c->close("client stopped reading its results (client_write_timeout)");

  // Clients holding a server too long: a query that runs past query_timeout, or an open transaction
  // left idle past idle_transaction_timeout. Closing the client closes that server too (it is not clean).
  int64_t query_limit = static_cast<int64_t>(config_.query_timeout * 1e6);
  int64_t idle_tx_limit = static_cast<int64_t>(config_.idle_transaction_timeout * 1e6);
  std::vector<std::pair<ClientConn*, const char*>> overdue;
  for (ClientConn* c : clients_) {
    ServerConn* s = c->server();
    if (!s || s->state() != ServerConn::State::active) continue;
    if (query_limit > 0 && s->busy() && now - s->query_started_us() > query_limit)
      overdue.emplace_back(c, "query_timeout");
    else if (idle_tx_limit > 0 && !s->busy() && s->tx_status() != 'I' && now - c->last_active_us() > idle_tx_limit)
      overdue.emplace_back(c, "idle_transaction_timeout");
  }
  for (auto& [c, why] : overdue) {
    ServerConn* s = c->server();
    if (std::strcmp(why, "query_timeout") == 0) {
      // Postgres would not notice the closed socket while the query runs: cancel it as well.
      const DatabaseEntry& e = s->pool().entry();
      CancelConn::send(loop_, e.host, e.port, s->backend_pid(), s->backend_key());
    }
    c->fail("08P01", why);
  }
  for (ClientConn* c : expired) {
    if (c->state() == ClientConn::State::ready) c->fail("08P01", "client_idle_timeout");
    else c->fail("08P01", "client_login_timeout");
  }

  std::vector<ServerConn*> slow;
  int64_t connect_limit = static_cast<int64_t>(config_.server_connect_timeout * 1e6);
  for (ServerConn* s : servers_) {
    bool logging_in = s->state() == ServerConn::State::connecting || s->state() == ServerConn::State::login;
    if (logging_in && connect_limit > 0 && now - s->created_us() > connect_limit) slow.push_back(s);
  }
  for (ServerConn* s : slow) s->connect_timed_out();

  if (private_fd_ < 0 && !shutting_down_) open_private_socket();
  refusal_tick(now);

  answer_admins(now);

  if (shutting_down_) {
    if (clients_.empty()) {
      log_info("all clients gone, shutting down");
      loop_.stop();
    } else if (now >= shutdown_deadline_us_) {
      log_info("shutdown_timeout reached with %d clients left; closing them", client_count());
      std::vector<ClientConn*> left(clients_.begin(), clients_.end());
      for (ClientConn* c : left) c->fail("57P01", "pooler is shutting down");
      loop_.stop();
    }
    for (const auto& p : pools_) p->close_idle_servers();
  }
  // Publish every tick: the admin console of another worker reads these figures, so they are at most a tick old
  // (a publish is one getrusage and a copy per pool).
  publish_stats();
}

// The admin queries waiting for the other workers' figures (defer_admin), answered once kAdminGatherUs have passed
// since they were asked to publish (by the admin timer, or by the tick without one).
void Worker::answer_admins(int64_t now) {
  if (admin_waiting_.empty() || now - admin_asked_us_ < kAdminGatherUs) return;
  publish_stats();
  std::vector<ClientConn*> ready;
  for (ClientConn* c : admin_waiting_)
    if (admin_ready(*this, *c, c->admin_sql())) ready.push_back(c);
  for (ClientConn* c : ready) {
    admin_waiting_.erase(std::find(admin_waiting_.begin(), admin_waiting_.end(), c));
    c->answer_admin();
  }
  // A PAUSE still waiting for servers asks the other workers for fresh figures again on the next tick.
  if (!admin_waiting_.empty()) signal_other_workers();
}

void Worker::publish_stats() {
  // A worker draining in a rolling restart gives its slot to its successor.
  if (shutting_down_) return;
  WorkerSlot& slot = shared_->workers[index_];
  int64_t now = EventLoop::now_us();
  int64_t wall = static_cast<int64_t>(time(nullptr));
  slot_begin_write(slot);
  slot.pid = getpid();
  slot.cpu = sched_getcpu();
  slot.started = started_unix_;
  slot.clients = client_count();
  slot.servers = server_count();
  int waiting = 0;
  uint64_t xacts = 0, queries = 0, logins = 0;
  int np = 0;
  for (const auto& p : pools_) {
    waiting += p->cl_waiting();
    const PoolCounters& c = p->counters();
    xacts += c.xact_count;
    queries += c.query_count;
    logins += c.client_logins;
    if (np >= kMaxPoolRows) continue;
    PoolRow& row = slot.pools[np++];
    copy_text(row.database, p->database());
    copy_text(row.user, p->server_user());
    copy_text(row.pool_mode, pool_mode_name(p->mode()));
    row.cl_active = p->cl_active - p->cl_waiting();
    row.cl_waiting = p->cl_waiting();
    row.sv_active = p->sv_active();
    row.sv_idle = p->sv_idle();
    row.sv_used = p->sv_total() - p->sv_active() - p->sv_idle() - p->sv_login();
    row.sv_login = p->sv_login();
    row.maxwait_us = p->max_wait_us(now);
    row.xact_count = c.xact_count;
    row.query_count = c.query_count;
    row.server_assignments = c.server_assignments;
    row.bytes_received = c.bytes_received;
    row.bytes_sent = c.bytes_sent;
    row.xact_time_us = c.xact_time_us;
    row.query_time_us = c.query_time_us;
    row.wait_time_us = c.wait_time_us;
    row.client_logins = c.client_logins;
    const PoolAverages& a = p->averages();
    row.avg_xact_count = a.xact_count;
    row.avg_query_count = a.query_count;
    row.avg_recv = a.recv;
    row.avg_sent = a.sent;
    row.avg_xact_time = a.xact_time_us;
    row.avg_query_time = a.query_time_us;
    row.avg_wait_time = a.wait_time_us;
  }
  slot.n_pools = np;
  slot.waiting = waiting;
  slot.xact_count = xacts;
  slot.query_count = queries;
  slot.client_logins = logins;
  slot.accepted = accepted_;
  slot.command_seen = command_seen_;
  slot.pause_done = pause_done() ? 1 : 0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  slot.cpu_user_us = static_cast<uint64_t>(ru.ru_utime.tv_sec) * 1000000 + static_cast<uint64_t>(ru.ru_utime.tv_usec);
  slot.cpu_sys_us = static_cast<uint64_t>(ru.ru_stime.tv_sec) * 1000000 + static_cast<uint64_t>(ru.ru_stime.tv_usec);
  int nc = 0;
  for (ClientConn* c : clients_) {
    if (nc >= kMaxConnRows) break;
    ConnRow& row = slot.conns[nc++];
    row.type = 'C';
    copy_text(row.user, c->user());
    copy_text(row.database, c->database());
    copy_text(row.state, c->state_name());
    const PeerInfo& peer = c->peer();
    copy_text(row.addr, peer.addr);
    row.port = peer.port;
    copy_text(row.local_addr, peer.local_addr);
    row.local_port = peer.local_port;
    row.connect_time = c->connect_time_unix();
    row.request_time = wall - (now - c->last_active_us()) / 1000000;
    row.wait_us = c->waiting() ? now - c->wait_start_us() : 0;
    row.ptr = c->id();
    row.id = c->serial();
    row.link = c->server() ? c->server()->id() : 0;
    row.remote_pid = static_cast<int32_t>(c->cancel_pid());
    copy_text(row.application_name, c->application_name());
  }
  for (ServerConn* s : servers_) {
    if (nc >= kMaxConnRows) break;
    ConnRow& row = slot.conns[nc++];
    row.type = 'S';
    copy_text(row.user, s->pool().server_user());
    copy_text(row.database, s->pool().database());
    copy_text(row.state, s->state_name());
    const PeerInfo& peer = s->peer();
    copy_text(row.addr, peer.addr);
    row.port = peer.port;
    copy_text(row.local_addr, peer.local_addr);
    row.local_port = peer.local_port;
    row.connect_time = s->connect_time_unix();
    row.request_time = row.connect_time;
    row.wait_us = 0;
    row.ptr = s->id();
    row.id = s->serial();
    row.link = s->client() ? s->client()->id() : 0;
    row.remote_pid = static_cast<int32_t>(s->backend_pid());
    copy_text(row.application_name, "");
  }
  slot.n_conns = nc;
  slot_end_write(slot);
}

}  // namespace rpool
