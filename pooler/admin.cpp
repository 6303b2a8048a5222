// Admin console: each SHOW reads every worker's slot in the shared block, so one query covers all workers.
#include "pooler/admin.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>
#include <sstream>
#include <vector>

#include "pooler/client_conn.hpp"
#include "pooler/protocol.hpp"
#include "pooler/shared_stats.hpp"
#include "pooler/worker.hpp"

namespace rpool {
namespace {

constexpr const char* kVersion = "rpool 0.1";

class ResultSet {
 public:
  explicit ResultSet(std::vector<pg::Column> columns) : columns_(std::move(columns)) {}
  void row(std::vector<std::string> values) {
    out_ += pg::data_row(values);
    ++rows_;
  }
  std::string finish(const std::string& command) {
    return pg::row_description(columns_) + out_ + pg::command_complete(command + " " + std::to_string(rows_));
  }

 private:
  std::vector<pg::Column> columns_;
  std::string out_;
  int rows_ = 0;
};

std::string num(int64_t v) { return std::to_string(v); }
std::string unum(uint64_t v) { return std::to_string(v); }

std::string time_text(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  tm tmv{};
  gmtime_r(&t, &tmv);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tmv);
  return buf;
}

std::string hex(uint64_t v) {
  std::ostringstream ss;
  ss << "0x" << std::hex << v;
  return ss.str();
}

// Consistent copies of every live worker's slot, in worker order.
std::vector<std::pair<int, std::unique_ptr<WorkerSlot>>> read_slots(Worker& worker) {
  worker.publish_stats();
  std::vector<std::pair<int, std::unique_ptr<WorkerSlot>>> out;
  SharedBlock* block = worker.shared();
  for (int i = 0; i < block->n_workers; ++i) {
    auto copy = std::make_unique<WorkerSlot>();
    if (slot_read(block->workers[i], *copy)) out.emplace_back(i, std::move(copy));
  }
  return out;
}

std::string show_workers(Worker& worker) {
  ResultSet rs({{"worker", true}, {"pid", true}, {"cpu", true}, {"clients", true}, {"servers", true},
                {"waiting", true}, {"transactions", true}, {"queries", true}, {"logins", true}, {"accepted", true},
                {"cpu_user_us", true}, {"cpu_sys_us", true}, {"started", false}});
  for (auto& [i, s] : read_slots(worker)) {
    rs.row({num(i), num(s->pid), num(s->cpu), num(s->clients), num(s->servers), num(s->waiting), unum(s->xact_count),
            unum(s->query_count), unum(s->client_logins), unum(s->accepted), unum(s->cpu_user_us),
            unum(s->cpu_sys_us), time_text(s->started)});
  }
  return rs.finish("SHOW");
}

std::string show_pools(Worker& worker) {
  ResultSet rs({{"worker", true}, {"database", false}, {"user", false}, {"cl_active", true}, {"cl_waiting", true},
                {"cl_active_cancel_req", true}, {"cl_waiting_cancel_req", true}, {"sv_active", true},
                {"sv_active_cancel", true}, {"sv_being_canceled", true}, {"sv_idle", true}, {"sv_used", true},
                {"sv_tested", true}, {"sv_login", true}, {"maxwait", true}, {"maxwait_us", true},
                {"pool_mode", false}});
  for (auto& [i, s] : read_slots(worker)) {
    for (int p = 0; p < s->n_pools; ++p) {
      const PoolRow& r = s->pools[p];
      rs.row({num(i), r.database, r.user, num(r.cl_active), num(r.cl_waiting), "0", "0", num(r.sv_active), "0", "0",
              num(r.sv_idle), num(r.sv_used), "0", num(r.sv_login), num(r.maxwait_us / 1000000),
              num(r.maxwait_us % 1000000), r.pool_mode});
    }
  }
  return rs.finish("SHOW");
}

std::string show_stats(Worker& worker) {
  ResultSet rs({{"worker", true}, {"database", false}, {"total_xact_count", true}, {"total_query_count", true},
                {"total_server_assignment_count", true}, {"total_received", true}, {"total_sent", true},
                {"total_xact_time", true}, {"total_query_time", true}, {"total_wait_time", true},
                {"total_client_login_count", true}, {"avg_xact_count", true}, {"avg_query_count", true},
                {"avg_recv", true}, {"avg_sent", true}, {"avg_xact_time", true}, {"avg_query_time", true},
                {"avg_wait_time", true}});
  for (auto& [i, s] : read_slots(worker)) {
    for (int p = 0; p < s->n_pools; ++p) {
      const PoolRow& r = s->pools[p];
      rs.row({num(i), r.database, unum(r.xact_count), unum(r.query_count), unum(r.server_assignments),
              unum(r.bytes_received), unum(r.bytes_sent), unum(r.xact_time_us), unum(r.query_time_us),
              unum(r.wait_time_us), unum(r.client_logins), unum(r.avg_xact_count), unum(r.avg_query_count),
              unum(r.avg_recv), unum(r.avg_sent), unum(r.avg_xact_time), unum(r.avg_query_time),
              unum(r.avg_wait_time)});
    }
  }
  return rs.finish("SHOW");
}

std::string show_connections(Worker& worker, char type) {
  ResultSet rs({{"worker", true}, {"type", false}, {"user", false}, {"database", false}, {"state", false},
                {"addr", false}, {"port", true}, {"local_addr", false}, {"local_port", true},
                {"connect_time", false}, {"request_time", false}, {"wait", true}, {"wait_us", true},
                {"close_needed", true}, {"ptr", false}, {"link", false}, {"remote_pid", true}, {"tls", false},
                {"application_name", false}, {"prepared_statements", true}, {"id", true}, {"replication", false}});
  for (auto& [i, s] : read_slots(worker)) {
    for (int c = 0; c < s->n_conns; ++c) {
      const ConnRow& r = s->conns[c];
      if (r.type != type) continue;
      rs.row({num(i), std::string(1, r.type), r.user, r.database, r.state, r.addr, num(r.port), r.local_addr,
              num(r.local_port), time_text(r.connect_time), time_text(r.request_time), num(r.wait_us / 1000000),
              num(r.wait_us % 1000000), "0", hex(r.ptr), r.link ? hex(r.link) : "", num(r.remote_pid), "",
              r.application_name, "0", unum(r.id), "none"});
    }
  }
  return rs.finish("SHOW");
}

std::string show_config(Worker& worker) {
  ResultSet rs({{"key", false}, {"value", false}, {"default", false}, {"changeable", false}});
  const auto& keys = config_keys();
  for (size_t k = 0; k < keys.size(); ++k) {
    std::string value = k < worker.config().shown.size() ? worker.config().shown[k].second : keys[k].default_value;
    rs.row({keys[k].name, value, keys[k].default_value, keys[k].changeable ? "yes" : "no"});
  }
  return rs.finish("SHOW");
}

std::string show_databases(Worker& worker) {
  ResultSet rs({{"name", false}, {"host", false}, {"port", true}, {"database", false}, {"force_user", false},
                {"pool_size", true}, {"reserve_pool", true}, {"pool_mode", false}, {"max_connections", true}});
  const Config& cfg = worker.config();
  for (const auto& d : cfg.databases) {
    rs.row({d.name, d.host, num(d.port), d.dbname.empty() ? d.name : d.dbname, d.user,
            num(d.pool_size >= 0 ? d.pool_size : cfg.default_pool_size), num(cfg.reserve_pool_size),
            pool_mode_name(cfg.pool_mode), num(d.max_db_connections >= 0 ? d.max_db_connections : cfg.max_db_connections)});
  }
  return rs.finish("SHOW");
}

std::string show_state(Worker& worker) {
  ResultSet rs({{"key", false}, {"value", false}});
  SharedBlock* block = worker.shared();
  int64_t resets = block->rolling_restart_resets.load();
  rs.row({"active", worker.shutting_down() ? "no" : "yes"});
  rs.row({"paused", block->command_kind.load() == static_cast<int32_t>(Worker::Command::pause) ? "yes" : "no"});
  rs.row({"suspended", "no"});
  rs.row({"workers", num(block->n_workers)});
  rs.row({"rolling_restarts", unum(block->rolling_restarts.load())});
  rs.row({"last_rolling_restart_resets", resets >= 0 ? num(resets) : ""});
  return rs.finish("SHOW");
}

std::string show_version() {
  ResultSet rs({{"version", false}});
  rs.row({kVersion});
  return rs.finish("SHOW");
}

std::string error(const std::string& message) { return pg::error_response("ERROR", "42601", message); }

std::string normalize(const std::string& sql) {
  std::string s;
  for (char c : sql) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == ';')) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  s = s.substr(b);
  std::string out;  // collapse runs of spaces
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// "PAUSE mydb;" -> {PAUSE, mydb}: the verb upper-cased, the argument as written.
std::pair<std::string, std::string> verb_and_arg(const std::string& sql) {
  std::string cmd = normalize(sql);
  size_t space = cmd.find(' ');
  std::string verb = cmd.substr(0, space);
  if (space == std::string::npos) return {verb, ""};
  std::string raw = sql;
  while (!raw.empty() && (std::isspace(static_cast<unsigned char>(raw.back())) || raw.back() == ';')) raw.pop_back();
  size_t b = 0;
  while (b < raw.size() && std::isspace(static_cast<unsigned char>(raw[b]))) ++b;
  size_t sp = raw.find_first_of(" \t\n", b);
  std::string arg = sp == std::string::npos ? "" : raw.substr(sp);
  size_t ab = arg.find_first_not_of(" \t\n");
  arg = ab == std::string::npos ? "" : arg.substr(ab);
  return {verb, arg};
}

Worker::Command command_of(const std::string& verb) {
  if (verb == "PAUSE") return Worker::Command::pause;
  if (verb == "RESUME") return Worker::Command::resume;
  if (verb == "RECONNECT") return Worker::Command::reconnect;
  if (verb == "KILL") return Worker::Command::kill;
  return Worker::Command::none;
}

}  // namespace

void admin_begin(Worker& worker, ClientConn& client, const std::string& sql) {
  auto [verb, arg] = verb_and_arg(sql);
  Worker::Command kind = command_of(verb);
  if (kind == Worker::Command::none || !worker.config().is_admin(client.user())) return;
  if (kind == Worker::Command::kill && arg.empty()) return;  // KILL needs a database, as in PgBouncer
  worker.broadcast_command(kind, arg);
}

bool admin_ready(Worker& worker, const ClientConn& client, const std::string& sql) {
  if (command_of(verb_and_arg(sql).first) != Worker::Command::pause) return true;
  if (!worker.config().is_admin(client.user())) return true;  // refused: admin_begin sent nothing to wait for
  SharedBlock* block = worker.shared();
  uint64_t seq = block->command_seq.load();
  for (int i = 0; i < block->n_workers; ++i) {
    const WorkerSlot& s = block->workers[i];
    if (s.pid <= 0) continue;  // restarting: it applies the mailbox when it starts
    if (s.command_seen < seq || !s.pause_done) return false;
  }
  return true;
}

std::string admin_query(Worker& worker, ClientConn& client, const std::string& sql) {
  std::string cmd = normalize(sql);
  bool is_admin = worker.config().is_admin(client.user());
  std::string reply;
  if (cmd.empty()) reply = pg::MessageBuilder('I').finish();  // EmptyQueryResponse
  else if (cmd == "SHOW WORKERS") reply = show_workers(worker);
  else if (cmd == "SHOW POOLS") reply = show_pools(worker);
  else if (cmd == "SHOW STATS" || cmd == "SHOW STATS_TOTALS") reply = show_stats(worker);
  else if (cmd == "SHOW CLIENTS") reply = show_connections(worker, 'C');
  else if (cmd == "SHOW SERVERS") reply = show_connections(worker, 'S');
  else if (cmd == "SHOW CONFIG") reply = show_config(worker);
  else if (cmd == "SHOW DATABASES") reply = show_databases(worker);
  else if (cmd == "SHOW VERSION") reply = show_version();
  else if (cmd == "SHOW STATE") reply = show_state(worker);
  else if (command_of(verb_and_arg(sql).first) != Worker::Command::none) {
    auto [verb, arg] = verb_and_arg(sql);
    if (!is_admin) reply = pg::error_response("ERROR", "42501", "admin access needed");
    else if (verb == "KILL" && arg.empty()) reply = error("KILL needs a database name");
    else reply = pg::command_complete(verb);  // the work was done by admin_begin and the workers
  } else if (cmd == "RELOAD" || cmd == "SHUTDOWN" || cmd == "SHUTDOWN WAIT_FOR_CLIENTS") {
    if (!is_admin) {
      reply = pg::error_response("ERROR", "42501", "admin access needed");
    } else if (cmd == "RELOAD") {
      kill(getppid(), SIGHUP);  // the supervisor checks the file and passes the reload to every worker
      reply = pg::command_complete("RELOAD");
    } else {
      kill(getppid(), SIGTERM);
      reply = pg::command_complete("SHUTDOWN");
    }
  } else {
    reply = error("unsupported admin command: " + sql);
  }
  return reply + pg::ready_for_query('I');
}

}  // namespace rpool
