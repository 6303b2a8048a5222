// Aggregating replications into the results document, and printing it for people.
#include "scenarios/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "sim/stats.hpp"

namespace scenarios {

namespace {

using nlohmann::json;

double ms(double ns) { return ns / 1e6; }

json mean_ci(const sim::Summary& s) { return json{{"mean", s.mean()}, {"ci95", s.ci95()}}; }

const char* mode_name(models::PoolMode m) {
  switch (m) {
    case models::PoolMode::kSession:
      return "session";
    case models::PoolMode::kTransaction:
      return "transaction";
    case models::PoolMode::kStatement:
      return "statement";
  }
  return "?";
}

// The mean over replications of one set of event loops' totals (a process's loop, the client threads, the
// backends), under the keys every one of them reports.
template <class Get>
json loop_totals(const std::vector<models::RunResult>& reps, Get get) {
  sim::Summary cpu, wakeups, idle, ipi, cross, preemptions, delay;
  for (const models::RunResult& r : reps) {
    const models::LoopTotals& t = get(r);
    cpu.add(t.cpu_seconds);
    wakeups.add(static_cast<double>(t.wakeups));
    idle.add(static_cast<double>(t.idle_wakeups));
    ipi.add(static_cast<double>(t.ipi_wakeups));
    cross.add(static_cast<double>(t.cross_cpu_messages));
    preemptions.add(static_cast<double>(t.preemptions));
    delay.add(t.run_delay_seconds);
  }
  return json{{"cpu_seconds", cpu.mean()},           {"wakeups", wakeups.mean()},
              {"idle_wakeups", idle.mean()},         {"ipi_wakeups", ipi.mean()},
              {"cross_cpu_messages", cross.mean()},  {"preemptions", preemptions.mean()},
              {"run_delay_seconds", delay.mean()}};
}

}  // namespace

json results_json(const Scenario& scenario, const json& scenario_doc, const RunOutput& output) {
  const auto& reps = output.replications;
  sim::Summary tps, latency_mean, latency_p99, conn_imb, load_imb, jain;
  sim::LatencyHistogram latency, latency_after_connect, connect_time;
  std::uint64_t events = 0;
  for (const models::RunResult& r : reps) {
    latency_after_connect.merge(r.latency_after_connect);
    connect_time.merge(r.connect_time);
    tps.add(r.throughput_tps);
    latency_mean.add(ms(r.latency.mean()));
    latency_p99.add(ms(static_cast<double>(r.latency.quantile(0.99))));
    latency.merge(r.latency);
    events += r.events;
    std::vector<double> conns, load;
    for (const auto& p : r.processes) {
      conns.push_back(p.connections_mean);
      load.push_back(static_cast<double>(p.transactions));
    }
    conn_imb.add(sim::max_over_mean(conns));
    load_imb.add(sim::max_over_mean(load));
    jain.add(sim::jain_index(load));
  }

  json processes = json::array();
  const std::size_t nproc = reps.empty() ? 0 : reps.front().processes.size();
  for (std::size_t i = 0; i < nproc; ++i) {
    sim::Summary conn_mean, tx, ptps, util, wait_mean, serv_mean, serv_active;
    double conn_max = 0, serv_max = 0;
    sim::LatencyHistogram wait;
    for (const models::RunResult& r : reps) {
      const models::ProcessResult& p = r.processes[i];
      conn_mean.add(p.connections_mean);
      conn_max = std::max(conn_max, p.connections_max);
      tx.add(static_cast<double>(p.transactions));
      ptps.add(p.throughput_tps);
      util.add(p.utilization);
      wait_mean.add(p.wait_mean_ms);
      serv_mean.add(p.servers_mean);
      serv_active.add(p.servers_active_mean);
      serv_max = std::max(serv_max, p.servers_max);
      wait.merge(p.wait);
    }
    const models::ProcessResult& first = reps.front().processes[i];
    json process{
        {"index", first.index},
        {"pod", first.pod},
        {"cpus", first.cpus},
        {"client_connections", {{"mean", conn_mean.mean()}, {"max", conn_max}}},
        {"transactions", tx.mean()},
        {"throughput_tps", ptps.mean()},
        {"throughput_ci95", ptps.ci95()},
        {"utilization", util.mean()},
        {"wait_ms", {{"mean", ms(wait.mean())}, {"p99", ms(static_cast<double>(wait.quantile(0.99)))}}},
        {"server_connections", {{"mean", serv_mean.mean()}, {"max", serv_max}, {"active_mean", serv_active.mean()}}},
    };
    process.update(loop_totals(reps, [i](const models::RunResult& r) -> const models::LoopTotals& {
      return r.processes[i].loop;
    }));
    processes.push_back(std::move(process));
  }

  sim::Summary backends, pg_util, pooler_util, pg_queries, pg_reuse, pg_cold;
  double backends_max = 0;
  std::uint64_t refused = 0, resets = 0, migrated = 0, syn_drops = 0, conn_refused = 0, port_exhaustion = 0;
  std::uint64_t wait_timeouts = 0, max_client = 0, failed = 0, opened = 0, closed = 0, open_end = 0;
  for (const models::RunResult& r : reps) {
    backends.add(r.backends_mean);
    backends_max = std::max(backends_max, r.backends_max);
    pg_util.add(r.postgres_utilization);
    pooler_util.add(r.pooler_host_utilization);
    pg_queries.add(static_cast<double>(r.postgres_queries));
    pg_reuse.add(r.postgres_reuse_distance_mean);
    pg_cold.add(r.postgres_cold_cpu_seconds);
    refused += r.refused_logins;
    resets += r.accept_queue_resets;
    migrated += r.migrated;
    syn_drops += r.syn_drops;
    conn_refused += r.connection_refused;
    port_exhaustion += r.port_exhaustion;
    wait_timeouts += r.query_wait_timeouts;
    max_client += r.max_client_conn_errors;
    failed += r.failed_connects;
    opened += r.connections_opened;
    closed += r.connections_closed;
    open_end += r.connections_open_at_end;
  }
  const double n = std::max<double>(1.0, static_cast<double>(reps.size()));
  auto per_rep = [&](std::uint64_t total) { return static_cast<double>(total) / n; };

  json doc;
  doc["scenario"] = scenario_doc;
  doc["seed"] = scenario.run.seed;
  doc["replications"] = reps.size();
  doc["duration_s"] = sim::to_seconds(scenario.run.duration);
  doc["warmup_s"] = sim::to_seconds(scenario.run.warmup);
  doc["throughput_tps"] = mean_ci(tps);
  doc["latency_ms"] = {{"mean", ms(latency.mean())},
                       {"p50", ms(static_cast<double>(latency.quantile(0.50)))},
                       {"p95", ms(static_cast<double>(latency.quantile(0.95)))},
                       {"p99", ms(static_cast<double>(latency.quantile(0.99)))},
                       {"p999", ms(static_cast<double>(latency.quantile(0.999)))},
                       {"max", ms(static_cast<double>(latency.max()))},
                       {"mean_ci95", latency_mean.ci95()},
                       {"p99_ci95", latency_p99.ci95()}};
  // pgbench -C reports these two apart: its --log latency starts at the login, its "connection time" is the rest.
  doc["latency_after_connect_ms"] = {{"mean", ms(latency_after_connect.mean())},
                                     {"p50", ms(static_cast<double>(latency_after_connect.quantile(0.50)))},
                                     {"p99", ms(static_cast<double>(latency_after_connect.quantile(0.99)))}};
  doc["connect_ms"] = {{"count", static_cast<double>(connect_time.count()) / std::max<double>(1.0, static_cast<double>(reps.size()))},
                       {"mean", ms(connect_time.mean())},
                       {"p50", ms(static_cast<double>(connect_time.quantile(0.50)))},
                       {"p99", ms(static_cast<double>(connect_time.quantile(0.99)))}};
  doc["processes"] = processes;
  doc["imbalance"] = {{"connections_max_over_mean", conn_imb.mean()},
                      {"load_max_over_mean", load_imb.mean()},
                      {"jain_index", jain.mean()},
                      {"ci95", {{"connections_max_over_mean", conn_imb.ci95()},
                                {"load_max_over_mean", load_imb.ci95()},
                                {"jain_index", jain.ci95()}}}};
  doc["client_threads"] =
      loop_totals(reps, [](const models::RunResult& r) -> const models::LoopTotals& { return r.client_threads; });
  doc["postgres"] = {{"backends", {{"mean", backends.mean()}, {"max", backends_max}}},
                     {"utilization", pg_util.mean()},
                     {"queries", pg_queries.mean()},
                     {"reuse_distance_mean", pg_reuse.mean()},
                     {"cold_cpu_seconds", pg_cold.mean()},
                     {"refused_logins", per_rep(refused)}};
  doc["postgres"].update(
      loop_totals(reps, [](const models::RunResult& r) -> const models::LoopTotals& { return r.backend_loops; }));
  doc["pooler_host"] = {{"utilization", pooler_util.mean()}};
  // Event counts are per replication, averaged; totals over all replications are in engine.
  doc["kernel"] = {{"accept_queue_resets", per_rep(resets)},
                   {"migrated", per_rep(migrated)},
                   {"syn_drops", per_rep(syn_drops)},
                   {"connection_refused", per_rep(conn_refused)},
                   {"port_exhaustion", per_rep(port_exhaustion)}};
  doc["errors"] = {{"query_wait_timeout", per_rep(wait_timeouts)},
                   {"max_client_conn", per_rep(max_client)},
                   {"failed_connects", per_rep(failed)}};
  doc["connections"] = {{"opened", per_rep(opened)}, {"closed", per_rep(closed)}, {"open_at_end", per_rep(open_end)}};
  doc["engine"] = {{"events", events},
                   {"wall_s", output.wall_s},
                   {"events_per_s", output.wall_s > 0 ? static_cast<double>(events) / output.wall_s : 0.0}};
  return doc;
}

void write_table(std::ostream& out, const Scenario& scenario, const json& r) {
  char line[512];
  const auto& w = scenario.world;
  int clients = 0;
  for (const auto& g : w.clients) clients += g.count;
  std::snprintf(line, sizeof line,
                "rpsim: %s\n  %d pooler process%s%s, %d clients, %s pooling, %g s after %g s warm-up, "
                "%d replication%s, seed %llu\n\n",
                scenario.name.empty() ? "(unnamed)" : scenario.name.c_str(), w.pooler.processes * w.pooler.pods,
                w.pooler.processes * w.pooler.pods == 1 ? "" : "es",
                w.pooler.pods > 1 ? (" in " + std::to_string(w.pooler.pods) + " pods").c_str() : "", clients,
                mode_name(w.pooler.pool_mode), sim::to_seconds(scenario.run.duration),
                sim::to_seconds(scenario.run.warmup), scenario.run.replications,
                scenario.run.replications == 1 ? "" : "s", static_cast<unsigned long long>(scenario.run.seed));
  out << line;
  std::snprintf(line, sizeof line, "  throughput   %10.1f tps  (95%% CI +/- %.1f)\n",
                r["throughput_tps"]["mean"].get<double>(), r["throughput_tps"]["ci95"].get<double>());
  out << line;
  const auto& l = r["latency_ms"];
  std::snprintf(line, sizeof line, "  latency ms   mean %.3f   p50 %.3f   p95 %.3f   p99 %.3f   p99.9 %.3f\n",
                l["mean"].get<double>(), l["p50"].get<double>(), l["p95"].get<double>(), l["p99"].get<double>(),
                l["p999"].get<double>());
  out << line;
  const bool per_transaction = std::any_of(w.clients.begin(), w.clients.end(), [](const auto& g) {
    return g.connection == models::ConnectionMode::kPerTransaction;
  });
  if (per_transaction) {
    // The latency above includes each per-transaction connection; pgbench -C reports the two apart.
    const auto& c = r["connect_ms"];
    std::snprintf(line, sizeof line, "  connect ms   mean %.3f   p99 %.3f   (latency from the login: mean %.3f)\n",
                  c["mean"].get<double>(), c["p99"].get<double>(),
                  r["latency_after_connect_ms"]["mean"].get<double>());
    out << line;
  }
  out << "\n";
  out << "  process  cpus      clients (mean/max)      tps    util   wait ms (mean/p99)   servers (mean/max)\n";
  for (const auto& p : r["processes"]) {
    std::string cpus;
    for (const auto& c : p["cpus"]) cpus += (cpus.empty() ? "" : ",") + std::to_string(c.get<int>());
    if (cpus.empty()) cpus = "os";
    std::snprintf(line, sizeof line, "  %7d  %-8s %8.1f / %-8.0f %10.1f  %5.1f%%  %8.3f / %-8.3f %9.1f / %.0f\n",
                  p["index"].get<int>(), cpus.c_str(), p["client_connections"]["mean"].get<double>(),
                  p["client_connections"]["max"].get<double>(), p["throughput_tps"].get<double>(),
                  100 * p["utilization"].get<double>(), p["wait_ms"]["mean"].get<double>(),
                  p["wait_ms"]["p99"].get<double>(), p["server_connections"]["mean"].get<double>(),
                  p["server_connections"]["max"].get<double>());
    out << line;
  }
  const auto& im = r["imbalance"];
  std::snprintf(line, sizeof line,
                "\n  imbalance    connections max/mean %.3f   load max/mean %.3f   Jain index %.3f\n",
                im["connections_max_over_mean"].get<double>(), im["load_max_over_mean"].get<double>(),
                im["jain_index"].get<double>());
  out << line;
  const auto& pg = r["postgres"];
  std::snprintf(line, sizeof line, "  postgres     backends %.1f (max %.0f)   CPU %.1f%%   refused logins %.0f\n",
                pg["backends"]["mean"].get<double>(), pg["backends"]["max"].get<double>(),
                100 * pg["utilization"].get<double>(), pg["refused_logins"].get<double>());
  out << line;
  const auto& k = r["kernel"];
  std::snprintf(line, sizeof line,
                "  kernel       accept-queue resets %.0f   migrated %.0f   SYN drops %.0f   refused %.0f\n",
                k["accept_queue_resets"].get<double>(), k["migrated"].get<double>(), k["syn_drops"].get<double>(),
                k["connection_refused"].get<double>());
  out << line;
  if (k["port_exhaustion"].get<double>() > 0) {
    std::snprintf(line, sizeof line,
                  "  ports        connect() found no free ephemeral port %.0f times (TIME_WAIT: consider kernel.tw_reuse "
                  "or more client hosts)\n",
                  k["port_exhaustion"].get<double>());
    out << line;
  }
  const auto& e = r["errors"];
  if (e["query_wait_timeout"].get<double>() + e["max_client_conn"].get<double>() + e["failed_connects"].get<double>() > 0) {
    std::snprintf(line, sizeof line, "  errors       query_wait_timeout %.0f   max_client_conn %.0f   failed connects %.0f\n",
                  e["query_wait_timeout"].get<double>(), e["max_client_conn"].get<double>(),
                  e["failed_connects"].get<double>());
    out << line;
  }
  const auto& en = r["engine"];
  std::snprintf(line, sizeof line, "  engine       %.3g events in %.2f s (%.3g events/s)\n",
                static_cast<double>(en["events"].get<std::uint64_t>()), en["wall_s"].get<double>(),
                en["events_per_s"].get<double>());
  out << line;
}

void write_timeseries_csv(std::ostream& out, const RunOutput& output) {
  out << "time_s,replication,process,connections,utilization,waiting_clients,servers,transactions\n";
  char line[256];
  for (std::size_t r = 0; r < output.replications.size(); ++r) {
    for (const auto& row : output.replications[r].timeseries) {
      std::snprintf(line, sizeof line, "%.6f,%zu,%d,%d,%.6f,%d,%d,%llu\n", row.time_s, r, row.process,
                    row.connections, row.utilization, row.waiting_clients, row.servers,
                    static_cast<unsigned long long>(row.transactions));
      out << line;
    }
  }
}

}  // namespace scenarios
