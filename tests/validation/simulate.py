"""The simulator's side: a scenario JSON that describes exactly the measured set-up, and rpsim's answer on it.

The set-up is one host ("local", 127.0.0.1) with this machine's cores: the pooler's workers, the Postgres
backends and pgbench's threads all share it, unpinned unless the adapter pins. CPU costs come from the named
calibration run (calibration.py) and nothing else.
"""
import json
import os
import subprocess
import tempfile

import procstat


def us(seconds):
    return f"{seconds * 1e6:.3f}us"


def host_topology():
    """This machine's cores and hardware threads per core, from sysfs."""
    cpus = procstat.NCPU
    siblings = 1
    try:
        with open("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list") as f:
            text = f.read().strip()
        parts = []
        for item in text.split(","):
            a, _, b = item.partition("-")
            parts += list(range(int(a), int(b or a) + 1))
        siblings = max(1, len(parts))
    except OSError:
        pass
    return {"cores": cpus // siblings, "threads_per_core": siblings}


def linux_timeslice_us():
    """The fair scheduler's slice on this machine: EEVDF's base slice 0.75 ms scaled by 1 + log2(cpus), cpus
    capped at 8 (the default logarithmic tunable scaling): 1.5 ms on 2 cpus, 3 ms from 8. The debugfs file that
    shows it (sched/base_slice_ns) is not readable inside this VM, so it is computed."""
    cpus = min(procstat.NCPU, 8)
    return 750.0 * (1 + (cpus.bit_length() - 1))


def varied(seconds, cv):
    """A CPU cost with the calibrated variability: lognormal with that coefficient of variation (a constant when
    cv or the cost is 0)."""
    return {"kind": "lognormal", "mean": us(seconds), "cv": round(cv, 4)} if cv > 0 and seconds > 0 else us(seconds)


# The share of pgbench's CPU per transaction that goes into sending the query; the rest reads the result. pgbench
# stamps a transaction's start as its thread turns to sending it (CSTATE_START_TX) and its end after reading the
# result (CSTATE_END_TX), and takes up the next transaction of a client only on its next pass over the clients,
# after reading the other ready results. So its logged latency leaves out the time from a result's read to the
# next send (measured on five runs: 3-4 us a transaction at 4 clients, 14 at 1 worker and 16 clients, 27-29 at 2
# workers and 16 clients, 113-145 at 2 workers and 64 clients), which rpsim reproduces by charging the send as a
# work item of its own (clients[].send_cpu) behind the thread's other work. The share was measured with perf (2026-11-24,
# `perf record -e cpu-clock --call-graph dwarf -p PGBENCH` for 4 s of `pgbench -S -j 2`, each sample grouped by
# the libc or libpq call it was under): the send, whose system call on loopback also runs the receiver's TCP
# stack and wakes it, took 37 % (PgBouncer, 1 worker, 8 clients), 47 % (rpool, 1 worker, 4 clients), 55 %
# (rpool, 2 workers, 16 clients) and 67 % (rpool, 2 workers, 64 clients) of pgbench's samples; the read, the
# poll, the --log line and the rest, the remainder. About half, then.
PGBENCH_SEND_SHARE = 0.5


# Client-pooler round trips of a login by auth_type, from the startup message to the answer (trust: the answer;
# md5: password request, then the answer; SCRAM: two SASL exchanges, then the answer).
AUTH_ROUND_TRIPS = {"trust": 1, "md5": 2, "scram-sha-256": 3}


def login_round_trips(auth_type):
    """pgbench reaches the pooler over TCP with libpq's default sslmode=prefer, so every connection first sends an
    SSLRequest, which both poolers refuse ('N'): one round trip more than the authentication's own."""
    return AUTH_ROUND_TRIPS[auth_type] + 1


def read_sysctl(name, default=None):
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return default


def scenario(name, description, cal, workers, clients, *, pool_size=20, max_client_conn=400, pinning="none",
             threads=2, mode="closed", rate=None, per_transaction=False, script="select", assignment=None,
             duration=10.0, warmup=2.0, replications=3, seed=1, port=6432, background=0, auth_type="md5"):
    """cal: the calibration's costs (seconds per unit) for this pooler; script: 'select' or 'sleep5ms'.

    The host schedules as Linux 6.6 and later do (hosts[].scheduler "eevdf", run queues with Linux's slice as
    hosts[].timeslice: a process that ran more than its share waits behind those that ran less), and the
    per-transaction CPU costs of the pooler, Postgres and pgbench vary as lognormals with the calibration's
    coefficient of variation (variability_cv, fitted to the calibration's own p99; 0 before it is fitted). Messages cross loopback in no
    time; a wake-up from another cpu that interrupts the cpu it lands on (idle, or preempted by it) costs the
    calibration's ipi_wakeup_s of CPU, and one onto an idle cpu idle_wakeup_s more and wakeup_latency_s of time."""
    topo = host_topology()
    costs = cal["scripts"][script]
    cv = cal.get("variability_cv", 0.0)
    pooler_cpu = {"query": varied(costs["pooler_per_query_s"] / 2, cv),
                  "result": varied(costs["pooler_per_query_s"] / 2, cv),
                  "login": us(cal["pooler_login_s"]), "server_login": us(cal.get("pooler_server_login_s", 40e-6)),
                  "wakeup": us(cal.get("pooler_wakeup_s", 0.0))}
    client = {
        "name": "pgbench",
        "count": clients,
        "host": "local",
        "database": "bench",
        "user": "app",
        "mode": mode,
        "connection": "per_transaction" if per_transaction else "persistent",
        "client_threads": min(threads, clients),
        # pgbench connects with libpq's blocking PQconnectdb: the whole thread waits for each connection.
        "blocking_connect": True,
        "server_cpu": varied(costs["postgres_per_txn_s"], cv),
        "send_cpu": varied(costs["pgbench_per_txn_s"] * PGBENCH_SEND_SHARE, cv),
        "client_cpu": varied(costs["pgbench_per_txn_s"] * (1 - PGBENCH_SEND_SHARE), cv),
        "wakeup": us(cal.get("pgbench_wakeup_s", 0.0)),
    }
    if per_transaction:
        # From the -C calibration phase: what pgbench spends per connection beyond a select-only transaction runs
        # inside the blocking connect. Postgres spends more per -C transaction than per select-only one through a
        # persistent pool (2026-11-23 calibration: 46 against 24 us on rpool, 48 against 31 on PgBouncer; why is
        # not established): the -C phase's own figure replaces the select-only one.
        client["connect_cpu"] = us(max(0.0, cal["pgbench_per_txn_connect_s"] - costs["pgbench_per_txn_s"]))
        client["server_cpu"] = varied(cal["postgres_per_txn_connect_s"], cv)
    if script == "sleep5ms":
        # pg_sleep(0.005)'s real wait, fitted by the calibration (validate.fit_sleep_wait); 5 ms before it is.
        client["server_wait"] = us(cal.get("sleep_wait_s", 0.005))
    if mode == "open":
        client["rate"] = rate / clients
    doc = {
        "name": name,
        "description": description,
        "run": {"duration": f"{duration}s", "warmup": f"{warmup}s", "seed": seed, "replications": replications},
        "hosts": [{"name": "local", "address": "127.0.0.1", "cores": topo["cores"],
                   "threads_per_core": topo["threads_per_core"], "timeslice": f"{linux_timeslice_us():.0f}us",
                   "scheduler": "eevdf",
                   "idle_wakeup": us(cal.get("idle_wakeup_s", 0.0)),
                   "ipi_wakeup": us(cal.get("ipi_wakeup_s", 0.0)),
                   "wakeup_latency": us(cal.get("wakeup_latency_s", 0.0))}],
        # Loopback delivers inside the sender's system call, whose cost is in the measured CPU: no time on the
        # wire. The time a hand-off takes is the woken process's (hosts[].wakeup_latency, onto an idle cpu).
        "network": {"softirq_per_packet": us(cal.get("softirq_per_packet_s", 0.0)), "loopback_latency": "0us"},
        "kernel": {"tcp_migrate_req": read_sysctl("net.ipv4.tcp_migrate_req", "0") == "1",
                   "wildcard_listener": False},
        "pooler": {"host": "local", "processes": workers, "pinning": pinning, "listen_addr": "127.0.0.1",
                   "listen_port": port, "pool_mode": "transaction", "pool_size": pool_size,
                   "max_client_conn": max_client_conn, "login_round_trips": login_round_trips(auth_type),
                   "cpu": pooler_cpu},
        "postgres": {"host": "local", "max_connections": 200},
        "clients": [client],
    }
    if cal.get("postgres_cold_cpu"):
        doc["postgres"]["cold_cpu"] = [[d, us(extra)] for d, extra in cal["postgres_cold_cpu"]]
    if assignment is not None:
        doc["assignment"] = list(assignment)
    add_background(doc, background)
    return doc


def add_background(doc, hogs):
    """The neighbours' work as `hogs` CPU hogs on the host "local": each its own thread whose one transaction's
    client-side burst (1000 s) outlasts the run, so it competes for the cores all along and
    never completes (no transaction or latency of its own enters the results)."""
    if hogs <= 0:
        return doc
    doc["clients"].append({"name": "background", "count": hogs, "host": "local", "database": "background",
                           "user": "background", "client_threads": hogs, "server_cpu": "1us",
                           "client_cpu": "1000s"})
    doc["description"] += f"; with {hogs} CPU hogs standing for the other work measured on the host"
    return doc


def restart_scenario(name, description, m, *, softirq_per_packet_s=0.0, replications=10, seed=1):
    """Experiment 6 as rpsim sees it, from the measurement `m` (restart_storm.py's JSON): this machine's cores;
    rpool's N workers (unpinned, listen_backlog as configured); the storm as open-loop clients sharing its
    Poisson rate, a new connection per transaction, on as many client threads as storm processes, with the
    storm's and the pooler's CPU per connection from the case's own calibration window (before any restart);
    and the same restarts at the same times: pass j replaces worker 0 at its start and worker 1 half-way
    through it (`rpool --rolling-restart` replaces them one after the other; each old worker closes its
    listener as it starts draining, its successor already listening)."""
    topo = host_topology()
    cal = m["calibration"]
    workers = m["workers"]
    duration = m["storm"]["duration_s"]
    warmup = 1.0
    # The storm keeps at most max_inflight connections per process in flight (arrivals beyond are skipped); an
    # open-loop rpsim client has one at a time (an arrival while it is busy waits), so as many clients as that
    # cap bound the connections in flight alike.
    clients = m["storm"]["processes"] * m["storm"].get("max_inflight", 400)
    restarts = []
    for r in m["restarts"]:
        for i in range(workers):
            restarts.append({"at": f"{r['at_s'] + r['took_s'] * i / workers:.4f}s", "process": i,
                             "mode": "wait_for_clients", "downtime": "1ms", "drain_timeout": "2s"})
    doc = {
        "name": name,
        "description": description,
        "run": {"duration": f"{duration - warmup}s", "warmup": f"{warmup}s", "seed": seed,
                "replications": replications},
        "hosts": [{"name": "local", "address": "127.0.0.1", "cores": topo["cores"],
                   "threads_per_core": topo["threads_per_core"]}],
        "network": {"softirq_per_packet": us(softirq_per_packet_s)},
        "kernel": {"tcp_migrate_req": m["migrate_req"] == "1", "wildcard_listener": False,
                   "listen_backlog": m.get("backlog", 128), "tw_reuse": True},
        # The storm's connections end at the SCRAM server-first message (storm.py); an rpsim client always sends
        # a query after its login, so that query is made free: no CPU anywhere, a pool and a Postgres large
        # enough that it never waits for a server connection.
        "pooler": {"host": "local", "processes": workers, "pinning": "none", "listen_addr": "127.0.0.1",
                   "listen_port": m.get("port", 6432), "pool_mode": "transaction", "pool_size": clients,
                   "max_client_conn": 2 * clients,
                   "cpu": {"login": us(cal["pooler_per_conn_s"]), "query": "0us", "result": "0us",
                           "server_login": "0us"}},
        "postgres": {"host": "local", "max_connections": 2 * clients * workers, "backend_startup": "0us"},
        "clients": [{"name": "storm", "count": clients, "host": "local", "database": "bench", "user": "app",
                     "mode": "open", "rate": m["rate"] / clients, "connection": "per_transaction",
                     "client_threads": m["storm"]["processes"], "connect_cpu": us(cal["storm_per_conn_s"]),
                     "server_cpu": "0us", "reconnect_delay": "0s"}],
        "restarts": restarts,
    }
    return doc


def run(rpsim, doc, threads=2):
    with tempfile.TemporaryDirectory(prefix="rpsim-val-") as d:
        path = os.path.join(d, "scenario.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
        out = subprocess.run([rpsim, "run", path, "--json", "-", "--quiet", "--threads", str(threads)],
                             capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError(f"rpsim failed: {out.stderr.strip()}")
        return json.loads(out.stdout)


def spread_distribution(rpsim, workers, clients, samples, seed0=1):
    """rpsim's predicted distribution of the busiest worker's client count, one replication per seed (each its
    own hash secret and ephemeral ports): persistent clients on the same loopback set-up, simulated only long
    enough to connect. Returns {max_count: frequency}."""
    doc = {
        "name": f"spread_{workers}x{clients}",
        "run": {"duration": "20ms", "warmup": "20ms", "seed": seed0, "replications": 1},
        "hosts": [{"name": "local", "address": "127.0.0.1", "cores": 2}],
        "kernel": {"wildcard_listener": False},
        "pooler": {"host": "local", "processes": workers, "listen_addr": "127.0.0.1", "pool_size": 20,
                   "max_client_conn": 400},
        "postgres": {"host": "local", "max_connections": 200},
        "clients": [{"name": "c", "count": clients, "host": "local", "think_time": "1s", "server_cpu": "10us"}],
    }
    with tempfile.TemporaryDirectory(prefix="rpsim-val-") as d:
        path = os.path.join(d, "spread.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        grid = os.path.join(d, "grid.json")
        seeds = ",".join(str(seed0 + i) for i in range(samples))
        out = subprocess.run([rpsim, "sweep", path, "--vary", f"run.seed={seeds}", "--out", grid, "--quiet"],
                             capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError(f"rpsim sweep failed: {out.stderr.strip()}")
        with open(grid) as f:
            rows = json.load(f)
    if isinstance(rows, dict):
        rows = rows.get("rows", rows.get("points", []))
    freq = {}
    for r in rows:
        m = int(round(r["connections_max_over_mean"] * clients / workers))
        freq[m] = freq.get(m, 0) + 1
    return freq
