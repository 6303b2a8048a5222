// The kernel's side of connecting: ephemeral ports, the Service's choice of pod, the reuseport group's choice of
// listener (hash, BPF by CPU, SO_INCOMING_CPU, least connections), listen backlogs, SYN retries, and what happens
// to queued connections when a listener closes (reset, or migration with tcp_migrate_req).
#include <algorithm>

#include "models/jhash.hpp"
#include "models/world.hpp"

namespace models {

namespace {
constexpr std::uint32_t kLoopback = 0x7f000001;  // 127.0.0.1
}

FourTuple World::tuple_of(int c) const {
  const Client& cl = clients_[c];
  const std::uint32_t saddr = cl.host == pooler_host_ ? kLoopback : cl.addr;
  return FourTuple{cl.daddr, config_.pooler.listen_port, saddr, cl.port};
}

int World::rx_cpu(const FourTuple& t) const {
  // RSS spreads flows over receive queues by a hash of the tuple; one queue per CPU of the pooler host.
  const std::uint32_t h = jhash_3words(t.local_addr, t.remote_addr,
                                       (static_cast<std::uint32_t>(t.local_port) << 16) | t.remote_port, rss_secret_);
  return static_cast<int>(reciprocal_scale(h, static_cast<std::uint32_t>(cpus_[pooler_host_]->cpus())));
}

void World::release_port(int c) {
  Client& cl = clients_[c];
  if (!cl.has_port) return;
  const std::uint32_t saddr = cl.host == pooler_host_ ? kLoopback : cl.addr;
  ports_[cl.host].close(saddr, cl.daddr, config_.pooler.listen_port, cl.port, sim_.now());
  cl.has_port = false;
}

void World::kernel_connect(int c) {
  Client& cl = clients_[c];
  if (cl.syn_attempts == 0) {
    // A Kubernetes-like Service picks a pod per connection (iptables: at random; IPVS: round robin).
    const int pods = config_.pooler.pods;
    if (pods <= 1) {
      cl.pod = 0;
    } else if (config_.pooler.service_round_robin) {
      cl.pod = service_next_++ % pods;
    } else {
      cl.pod = static_cast<int>(service_rng_.below(static_cast<std::uint64_t>(pods)));
    }
    const bool local = cl.host == pooler_host_;
    const std::uint32_t base = local ? kLoopback : (config_.pooler.listen_addr != 0 ? config_.pooler.listen_addr
                                                                                      : config_.hosts[pooler_host_].address);
    cl.daddr = base + static_cast<std::uint32_t>(cl.pod);
    const std::uint32_t saddr = local ? kLoopback : cl.addr;
    auto port = ports_[cl.host].connect(saddr, cl.daddr, config_.pooler.listen_port, sim_.now());
    if (!port) {
      port_exhaustion_.add();  // EADDRNOTAVAIL: connect() fails at once
      cl.state = ClientState::kClosing;
      client_error(c, false);
      return;
    }
    cl.port = *port;
    cl.has_port = true;
  }
  ++cl.syn_attempts;
  send(cl.host, pooler_host_, kSynArrive, client_ref(c));
}

int World::kernel_choose_listener(int c, int pod) {
  Client& cl = clients_[c];
  const ReuseportGroup& group = groups_[pod];
  if (group.empty()) return -1;
  if (cl.assigned) {
    // Conditioning on a measured spread: the given process, if it is listening.
    cl.assigned = false;
    if (group.is_member(cl.assigned_process)) return cl.assigned_process;
  }
  const FourTuple t = tuple_of(c);
  const std::uint32_t hash = inet_ehashfn(t, config_.kernel.wildcard_listener, hash_secret_, config_.kernel.hash);
  std::optional<int> chosen;
  switch (config_.kernel.steering) {
    case Steering::kHash:
      chosen = group.select_by_hash(hash);
      break;
    case Steering::kIncomingCpu:
      chosen = group.select_incoming_cpu(hash, rx_cpu(t), [&](int id) { return processes_[id].incoming_cpu; });
      break;
    case Steering::kBpfCpu: {
      // A classic BPF program returning the receiving CPU: an index past the group falls back to the hash.
      const auto idx = static_cast<std::size_t>(rx_cpu(t));
      chosen = idx < group.size() ? std::optional<int>(group.members()[idx]) : group.select_by_hash(hash);
      break;
    }
    case Steering::kLeastConnections: {
      // Needs an SK_REUSEPORT eBPF program fed with per-process counts: a what-if, not a kernel default.
      int best = -1;
      for (int id : group.members()) {
        const int load = processes_[id].clients + processes_[id].accept_pending;
        if (best < 0 || load < processes_[best].clients + processes_[best].accept_pending) best = id;
      }
      chosen = best;
      break;
    }
  }
  return chosen.value_or(-1);
}

void World::kernel_syn_arrive(int c) {
  Client& cl = clients_[c];
  const int p = kernel_choose_listener(c, cl.pod);
  if (p < 0) {
    connection_refused_.add();  // no listener: the SYN gets a RST
    cl.state = ClientState::kClosing;
    send(pooler_host_, cl.host, kClientErrorArrive, client_ref(c));
    return;
  }
  if (processes_[p].accept_pending >= config_.kernel.listen_backlog) {
    // A full queue drops the SYN; the client retransmits with exponential backoff, then gives up.
    syn_drops_.add();
    if (cl.syn_attempts > config_.network.syn_retries) {
      cl.state = ClientState::kClosing;
      sim_.schedule_in(config_.network.syn_retry << std::min(cl.syn_attempts - 1, 20), this, kConnectFailed,
                       client_ref(c));
    } else {
      sim_.schedule_in((config_.network.syn_retry << std::min(cl.syn_attempts - 1, 20)) - one_way(cl.host, pooler_host_),
                       this, kSynRetry, client_ref(c));
    }
    return;
  }
  kernel_bind(c, p);
  // SYN-ACK to the client, then its ACK with the startup packet: the pooler can read the login one round trip on.
  sim_.schedule_in(2 * one_way(cl.host, pooler_host_), this, kStartupArrive, client_ref(c));
}

void World::kernel_bind(int c, int p) {
  Client& cl = clients_[c];
  cl.state = ClientState::kAcceptQueue;
  cl.process = p;
  processes_[p].accept_queue.push_back(client_ref(c));
  ++processes_[p].accept_pending;
}

void World::kernel_reset(int c) {
  Client& cl = clients_[c];
  accept_queue_resets_.add();
  cl.state = ClientState::kClosing;
  send(pooler_host_, cl.host, kClientErrorArrive, client_ref(c));
}

void World::kernel_close_listener(int p) {
  Process& proc = processes_[p];
  ReuseportGroup& group = groups_[proc.pod];
  proc.listening = false;
  group.close(p, config_.kernel.tcp_migrate_req);
  std::deque<std::uint64_t> queue;
  queue.swap(proc.accept_queue);
  proc.accept_pending = 0;
  for (std::uint64_t r : queue) {
    const int c = live_client(r);
    if (c < 0 || clients_[c].state != ClientState::kAcceptQueue || clients_[c].process != p) continue;
    if (!config_.kernel.tcp_migrate_req) {
      kernel_reset(c);
      continue;
    }
    // The child keeps its own hash, computed with the real local address, and picks among the live listeners.
    const std::uint32_t child_hash = inet_ehashfn(tuple_of(c), false, hash_secret_, config_.kernel.hash);
    const auto target = group.select_migration_target(child_hash);
    if (!target) {
      kernel_reset(c);
      continue;
    }
    migrated_.add();
    ++clients_[c].gen;  // the old listener's queued login is now stale
    kernel_bind(c, *target);
    Process& tp = processes_[*target];
    tp.loop->post(kWorkLogin, client_ref(c), config_.pooler.cpu.login.sample(tp.login_rng) + softirq());
  }
}

void World::kernel_relisten(int p) {
  Process& proc = processes_[p];
  ReuseportGroup& group = groups_[proc.pod];
  // The replacement is a new socket: it joins at the end of the group, as its listen() is the latest.
  if (group.is_parked(p)) group.release(p);
  group.listen(p);
  proc.listening = true;
  proc.draining = false;
  for (std::size_t k = 0; k < proc.pools.size(); ++k) {
    for (int i = 0; i < config_.pooler.min_pool_size; ++i) {
      if (pooler_can_open(proc, proc.pools[k])) postgres_open_server(p, static_cast<int>(k));
    }
  }
}

}  // namespace models
