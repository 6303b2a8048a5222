// Pool bookkeeping: LIFO idle servers, a FIFO of waiting clients, launching servers within the limits.
#include "pooler/pool.hpp"

#include <algorithm>

#include "pooler/client_conn.hpp"
#include "pooler/log.hpp"
#include "pooler/server_conn.hpp"
#include "pooler/worker.hpp"

namespace rpool {

Pool::Pool(Worker& worker, const DatabaseEntry& entry, std::string database, std::string server_user,
           std::string server_password, std::string server_dbname)
    : worker_(worker), entry_(entry), database_(std::move(database)), server_user_(std::move(server_user)),
      server_password_(std::move(server_password)), server_dbname_(std::move(server_dbname)) {}

PoolMode Pool::mode() const { return worker_.config().pool_mode; }

int Pool::pool_size() const { return entry_.pool_size >= 0 ? entry_.pool_size : worker_.config().default_pool_size; }

void Pool::count_state(int state, int delta) {
  switch (static_cast<ServerConn::State>(state)) {
    case ServerConn::State::connecting:
    case ServerConn::State::login: login_ += delta; break;
    case ServerConn::State::active: active_ += delta; break;
    case ServerConn::State::resetting: other_ += delta; break;
    case ServerConn::State::idle:
    case ServerConn::State::closed: break;  // idle servers are counted by the idle list itself
  }
  RPOOL_ASSERT(login_ >= 0 && active_ >= 0 && other_ >= 0, "negative server count");
}

void Pool::set_params(std::vector<std::pair<std::string, std::string>> params) {
  params_ = std::move(params);
  params_known_ = true;
}

int64_t Pool::max_wait_us(int64_t now_us) const {
  return waiting_.empty() ? 0 : now_us - waiting_.front()->wait_start_us();
}

void Pool::request_server(ClientConn* client) {
  if (paused()) {  // held until RESUME
    waiting_.push_back(client);
    return;
  }
  if (!idle_.empty()) {
    ServerConn* server = idle_.back();  // LIFO: the warmest connection, and the others can age out
    idle_.pop_back();
    ++counters_.server_assignments;
    server->link(client);
    client->on_server_linked(server);
    return;
  }
  waiting_.push_back(client);
  launch_if_needed(EventLoop::now_us());
}

void Pool::forget_waiting(ClientConn* client) {
  auto it = std::find(waiting_.begin(), waiting_.end(), client);
  if (it != waiting_.end()) waiting_.erase(it);
}

void Pool::server_available(ServerConn* server) {
  RPOOL_ASSERT(server->state() == ServerConn::State::idle, "available server is not idle");
  if (worker_.shutting_down() && waiting_.empty() && cl_active == 0) {
    server->close("shutting down");
    return;
  }
  if (paused()) {
    server->close("PAUSE");
    return;
  }
  if (server->generation() != generation_) {
    server->close("RECONNECT");
    launch_if_needed(EventLoop::now_us());
    return;
  }
  if (!waiting_.empty()) {
    ClientConn* client = waiting_.front();
    waiting_.pop_front();
    counters_.wait_time_us += static_cast<uint64_t>(EventLoop::now_us() - client->wait_start_us());
    ++counters_.server_assignments;
    server->link(client);
    client->on_server_linked(server);
    return;
  }
  server->park();
  idle_.push_back(server);
}

void Pool::server_gone(ServerConn* server) {
  auto it = std::find(idle_.begin(), idle_.end(), server);
  if (it != idle_.end()) idle_.erase(it);
}

bool Pool::paused() const { return worker_.is_paused(database_); }

void Pool::reconnect() {
  ++generation_;
  close_idle_servers();
}

void Pool::close_idle_servers() {
  std::vector<ServerConn*> idle = idle_;
  for (ServerConn* s : idle) s->close("closing idle servers");
}

bool Pool::may_launch(bool use_reserve) const {
  const Config& cfg = worker_.config();
  int limit = pool_size() + (use_reserve ? cfg.reserve_pool_size : 0);
  if (sv_total() >= limit) return false;
  int db_limit = entry_.max_db_connections >= 0 ? entry_.max_db_connections : cfg.max_db_connections;
  if (db_limit > 0) {
    int used = 0;
    for (const auto& p : worker_.pools())
      if (p->entry().name == entry_.name) used += p->sv_total();
    if (used >= db_limit) return false;
  }
  return true;
}

void Pool::launch_if_needed(int64_t now_us) {
  if (paused()) return;
  const Config& cfg = worker_.config();
  bool use_reserve = !waiting_.empty() && cfg.reserve_pool_size > 0 &&
                     now_us - waiting_.front()->wait_start_us() >= static_cast<int64_t>(cfg.reserve_pool_timeout * 1e6);
  // Servers still logging in will each serve one waiter; launch only for the rest.
  while (static_cast<int>(waiting_.size()) > login_ && may_launch(use_reserve)) {
    if (use_reserve && sv_total() >= pool_size())
      log_info("pool %s/%s: using the reserve pool", database_.c_str(), server_user_.c_str());
    auto* server = new ServerConn(worker_, *this);
    worker_.server_created(server);
    if (!server->start()) break;  // the failure went to login_failed already
  }
}

void Pool::login_failed(const std::string& message, const std::string& sqlstate) {
  // Other servers of this pool can still serve the waiters; otherwise tell them now instead of at a timeout.
  if (sv_total() > 0) return;
  std::deque<ClientConn*> failed;
  failed.swap(waiting_);
  for (ClientConn* c : failed) c->fail(sqlstate.c_str(), message);
}

void Pool::roll_stats_period(double seconds) {
  const PoolCounters& a = period_start_;
  const PoolCounters& b = counters_;
  auto per_second = [&](uint64_t x, uint64_t y) { return static_cast<uint64_t>(static_cast<double>(y - x) / seconds); };
  auto mean = [](uint64_t total, uint64_t count) { return count ? total / count : 0; };
  averages_.xact_count = per_second(a.xact_count, b.xact_count);
  averages_.query_count = per_second(a.query_count, b.query_count);
  averages_.recv = per_second(a.bytes_received, b.bytes_received);
  averages_.sent = per_second(a.bytes_sent, b.bytes_sent);
  averages_.xact_time_us = mean(b.xact_time_us - a.xact_time_us, b.xact_count - a.xact_count);
  averages_.query_time_us = mean(b.query_time_us - a.query_time_us, b.query_count - a.query_count);
  averages_.wait_time_us = mean(b.wait_time_us - a.wait_time_us, b.server_assignments - a.server_assignments);
  period_start_ = counters_;
}

void Pool::janitor(int64_t now_us) {
  const Config& cfg = worker_.config();
  // query_wait_timeout: the oldest waiters are first in the queue.
  if (cfg.query_wait_timeout > 0) {
    int64_t limit = static_cast<int64_t>(cfg.query_wait_timeout * 1e6);
    while (!waiting_.empty() && now_us - waiting_.front()->wait_start_us() >= limit) {
      ClientConn* c = waiting_.front();
      waiting_.pop_front();
      c->fail("08P01", "query_wait_timeout");
    }
  }
  launch_if_needed(now_us);
  // Idle servers past server_idle_timeout or server_lifetime close from the cold end (front of the LIFO list).
  int keep = std::max(cfg.min_pool_size, 0);
  std::vector<ServerConn*> expired;
  for (size_t i = 0; i < idle_.size(); ++i) {
    ServerConn* s = idle_[i];
    bool too_idle = cfg.server_idle_timeout > 0 &&
                    now_us - s->idle_since_us() >= static_cast<int64_t>(cfg.server_idle_timeout * 1e6);
    bool too_old =
        cfg.server_lifetime > 0 && now_us - s->created_us() >= static_cast<int64_t>(cfg.server_lifetime * 1e6);
    if ((too_idle || too_old) && sv_total() - static_cast<int>(expired.size()) > keep) expired.push_back(s);
  }
  for (ServerConn* s : expired) s->close("server_idle_timeout or server_lifetime");
  // min_pool_size: keep warm servers when clients use this pool.
  if (!worker_.shutting_down() && !paused() && cl_active > 0) {
    while (sv_total() < std::min(cfg.min_pool_size, pool_size())) {
      auto* server = new ServerConn(worker_, *this);
      worker_.server_created(server);
      if (!server->start()) break;
    }
  }
}

}  // namespace rpool
