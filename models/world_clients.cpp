// Client behaviour: pgbench-like closed and open loops, persistent or per-transaction connections, lifetimes,
// reconnects, and transactions of several queries.
#include <algorithm>

#include "models/world.hpp"

namespace models {

namespace {
constexpr sim::Time kErrorBackoff = 10 * sim::kMillisecond;
}  // namespace

void World::client_start(int c) {
  Client& cl = clients_[c];
  const ClientGroupConfig& g = groups_cfg_[cl.group].config;
  if (g.mode == LoopMode::kOpen && cl.next_arrival == 0) {
    cl.next_arrival = sim_.now() + static_cast<sim::Time>(groups_cfg_[cl.group].rng.arrivals.exponential(1e9 / g.rate));
  }
  // Per-transaction connections open only when a transaction needs one.
  if (g.connection == ConnectionMode::kPerTransaction && !cl.txn_pending) {
    if (g.mode == LoopMode::kOpen) {
      schedule_open_arrival(c);
    } else {
      begin_transaction(c, sim_.now());
    }
    return;
  }
  ++cl.gen;  // a new connection: whatever an older one left in flight is ignored
  cl.state = ClientState::kConnecting;
  cl.syn_attempts = 0;
  if (g.blocking_connect || !g.connect_cpu.is_zero()) {
    // The connection starts when its thread gets to it, behind that thread's other work.
    client_loops_[cl.thread]->post(kWorkClientConnect, client_ref(c),
                                   g.connect_cpu.sample(groups_cfg_[cl.group].rng.connect_cpu));
    return;
  }
  cl.wait_start = sim_.now();
  kernel_connect(c);
}

bool World::client_connect_start(int c) {
  Client& cl = clients_[c];
  if (cl.state != ClientState::kConnecting) return false;
  cl.wait_start = sim_.now();
  if (groups_cfg_[cl.group].config.blocking_connect) {
    cl.holds_thread = true;
    client_loops_[cl.thread]->block();
  }
  return true;
}

void World::client_connect_over(int c) {
  Client& cl = clients_[c];
  if (!cl.holds_thread) return;
  cl.holds_thread = false;
  client_loops_[cl.thread]->unblock();
}

sim::Time World::client_wake_delay(int c) const {
  const EventLoop& loop = *client_loops_[clients_[c].thread];
  const Cpu& cpu = *cpus_[clients_[c].host];
  return loop.asleep() && cpu.places_on_idle(loop.affinity()) ? cpu.wakeup_latency() : 0;
}

void World::client_login_challenge(int c) {
  // Its CPU is in connect_cpu, spent before the SYN.
  send(clients_[c].host, pooler_host_, kLoginResponseArrive, client_ref(c));
}

void World::client_connected(int c) {
  Client& cl = clients_[c];
  cl.state = ClientState::kReady;
  if (sim_.now() >= measure_start_) connect_time_.record(sim_.now() - cl.wait_start);
  client_after_login(c);
  // The connect call returns only now: the client's first message is already out when its thread moves on.
  client_connect_over(c);
}

void World::client_after_login(int c) {
  Client& cl = clients_[c];
  const ClientGroupState& g = groups_cfg_[cl.group];
  if (g.config.connection == ConnectionMode::kPersistent && g.config.lifetime) {
    cl.lifetime_end = sim_.now() + g.config.lifetime->sample(groups_cfg_[cl.group].rng.lifetime);
  } else {
    cl.lifetime_end = sim::kTimeMax;
  }
  if (processes_[cl.process].disconnect_clients) {
    client_disconnect(c);  // its process is restarting: go elsewhere
    schedule_reconnect(c, g.config.reconnect_delay.sample(groups_cfg_[cl.group].rng.reconnect));
    return;
  }
  if (cl.txn_pending) {
    begin_transaction(c, cl.txn_start);  // which clears txn_pending
  } else if (g.config.mode == LoopMode::kOpen) {
    schedule_open_arrival(c);
  } else {
    begin_transaction(c, sim_.now());
  }
}

void World::begin_transaction(int c, sim::Time start) {
  Client& cl = clients_[c];
  ClientGroupState& g = groups_cfg_[cl.group];
  if (g.config.mode == LoopMode::kOpen && start == cl.next_arrival) {
    cl.next_arrival += static_cast<sim::Time>(g.rng.arrivals.exponential(1e9 / g.config.rate));
  }
  if (cl.state != ClientState::kReady) {
    // Not connected (per-transaction connections): the connection time counts in the latency, as with pgbench -C.
    RPSIM_ASSERT(cl.state == ClientState::kIdle, "a transaction starts on an idle or ready client");
    cl.txn_start = start;
    cl.txn_pending = true;
    client_start(c);
    return;
  }
  cl.state = ClientState::kInTransaction;
  // A transaction that waited for its connection keeps its start: the connection counts in its latency. A closed
  // loop's other transactions start when their thread turns to sending them (pgbench's CSTATE_START_TX).
  if (!cl.txn_pending) cl.txn_start = start;
  cl.starts_at_send = g.config.mode == LoopMode::kClosed && !cl.txn_pending;
  cl.txn_pending = false;
  cl.attributed_at = sim_.now();
  cl.queries_left = g.config.queries_per_transaction;
  processes_[cl.process].in_transaction.add(sim_.now(), 1);
  client_send(c);
}

void World::client_send_on_thread(int c) {
  Client& cl = clients_[c];
  ClientGroupState& g = groups_cfg_[cl.group];
  const sim::Time cost = g.config.send_cpu.sample(g.rng.send_cpu);
  if (cost <= 0) {
    // Sent at once, also from a thread that is blocked: a blocking connect sends its first query before it
    // returns (client_connected).
    send_query(c);
    return;
  }
  if (cl.holds_thread) {
    // The first query of a blocking connection: the connect returns into the code that sends it, before the
    // thread turns to anything that queued meanwhile (pgbench's START_TX goes straight on to the send).
    client_loops_[cl.thread]->post_first(kWorkClientSend, client_ref(c), cost);
  } else {
    client_loops_[cl.thread]->post(kWorkClientSend, client_ref(c), cost);
  }
}

void World::send_query(int c) {
  send(clients_[c].host, pooler_host_, kQueryArrive, client_ref(c));
}

void World::client_result(int c) {
  Client& cl = clients_[c];
  RPSIM_ASSERT(cl.state == ClientState::kInTransaction, "a result reaches a client inside a transaction");
  if (--cl.queries_left > 0) {
    client_send(c);
    return;
  }
  ClientGroupState& g = groups_cfg_[cl.group];
  post_work(*client_loops_[cl.thread], kWorkClientEnd, client_ref(c), g.config.client_cpu.sample(g.rng.client_cpu),
            [&] { client_transaction_end(c); });
}

void World::client_transaction_end(int c) {
  Client& cl = clients_[c];
  Process& p = processes_[cl.process];
  const sim::Time now = sim_.now();
  p.in_transaction.add(now, -1);
  if (now >= measure_start_) {
    transactions_.add();
    latency_.record(now - cl.txn_start);
    // A per-transaction connection's transaction became its process's at its login (begin_transaction).
    const bool per_txn = groups_cfg_[cl.group].config.connection == ConnectionMode::kPerTransaction;
    latency_after_connect_.record(now - (per_txn ? cl.attributed_at : cl.txn_start));
    p.transactions.add();
    p.latency.record(now - cl.attributed_at);
  }
  cl.state = ClientState::kReady;
  client_after_transaction(c);
}

void World::client_after_transaction(int c) {
  Client& cl = clients_[c];
  ClientGroupState& g = groups_cfg_[cl.group];
  const sim::Time now = sim_.now();
  if (g.config.connection == ConnectionMode::kPerTransaction) {
    client_disconnect(c);
    if (g.config.mode == LoopMode::kOpen) {
      schedule_open_arrival(c);
    } else {
      cl.timer = sim_.schedule_in(g.config.think_time.sample(g.rng.think), this, kThinkDone, client_ref(c));
    }
    return;
  }
  if (cl.disconnect_after_txn || now >= cl.lifetime_end || processes_[cl.process].disconnect_clients) {
    client_disconnect(c);
    schedule_reconnect(c, g.config.reconnect_delay.sample(g.rng.reconnect));
    return;
  }
  if (g.config.mode == LoopMode::kOpen) {
    schedule_open_arrival(c);
  } else {
    const sim::Time think = g.config.think_time.sample(g.rng.think);
    if (think == 0) {
      begin_transaction(c, now);
    } else {
      cl.timer = sim_.schedule_in(think, this, kThinkDone, client_ref(c));
    }
  }
}

void World::schedule_open_arrival(int c) {
  Client& cl = clients_[c];
  if (cl.next_arrival <= sim_.now()) {
    begin_transaction(c, cl.next_arrival);  // behind schedule: the lag counts in the latency
  } else {
    cl.timer = sim_.schedule_at(cl.next_arrival, this, kOpenArrival, client_ref(c));
  }
}

void World::client_error(int c, bool count_as_failed) {
  Client& cl = clients_[c];
  if (count_as_failed) failed_connects_.add();
  // Errors reach clients whose connection the other side already dropped (kClosing); a connected one is dropped here.
  if (cl.state == ClientState::kInTransaction) processes_[cl.process].in_transaction.add(sim_.now(), -1);
  if (cl.state == ClientState::kReady || cl.state == ClientState::kInTransaction) pooler_client_gone(c);
  release_port(c);
  cl.state = ClientState::kIdle;
  cl.process = -1;
  cl.txn_pending = false;  // the transaction failed; the next one starts afresh
  ++cl.gen;
  // After an error the client backs off at least a little: a failure that recurs at once (ports exhausted, no
  // listener) would otherwise retry forever at one instant and simulated time would never advance.
  ClientGroupState& g = groups_cfg_[cl.group];
  schedule_reconnect(c, std::max(g.config.reconnect_delay.sample(g.rng.reconnect), kErrorBackoff));
  client_connect_over(c);  // a failed blocking connect returns its thread
}

void World::client_disconnect(int c) {
  Client& cl = clients_[c];
  RPSIM_ASSERT(cl.state == ClientState::kReady, "clients disconnect between transactions");
  pooler_client_gone(c);
  release_port(c);
  cl.state = ClientState::kIdle;
  cl.process = -1;
  cl.disconnect_after_txn = false;
  ++cl.gen;
}

void World::schedule_reconnect(int c, sim::Time delay) {
  clients_[c].timer = sim_.schedule_in(delay, this, kClientStart, client_ref(c));
}

}  // namespace models
