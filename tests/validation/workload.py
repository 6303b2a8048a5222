"""Real load: pgbench runs bounded in time with per-transaction logs, measured between two snapshots taken after
a warm-up; and the spread trials of experiment 1 (real connections, counted per worker after their startup).
"""
import glob
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import procstat

PGPASSWORD = "app-secret"  # pgfixture.USERS: app / app-secret


def pgbench_env():
    return dict(os.environ, PGPASSWORD=PGPASSWORD)


def postgres_pids(pg):
    """The postmaster and all its children (backends, background workers), read afresh at each snapshot."""
    try:
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            pm = int(f.readline())
    except (OSError, ValueError):
        return []
    return [pm] + procstat.children_of(pm)


def quantile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def read_logs(prefix, t0, t1):
    """Per-transaction latencies (ms) of transactions that ended in [t0, t1] (epoch seconds), from
    pgbench --log files: client_id txn_no latency_us script_no epoch_s epoch_us [lag_us]."""
    lat = []
    skipped = 0
    for path in glob.glob(prefix + "*"):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6:
                    continue
                if parts[2] == "skipped":
                    skipped += 1
                    continue
                end = int(parts[4]) + int(parts[5]) / 1e6
                if t0 <= end <= t1:
                    lat.append(int(parts[2]) / 1000.0)
    lat.sort()
    return lat, skipped


class PgbenchRun:
    """One bounded pgbench run through the pooler, measured over [warmup, warmup + window] of its life."""

    def __init__(self, adapter, pg, clients, threads=2, script=None, select_only=True, connect_each=False,
                 rate=None, warmup=2.0, window=8.0, tail=4.0, db="bench"):
        self.adapter, self.pg = adapter, pg
        self.clients, self.threads = clients, min(threads, clients)
        self.script, self.select_only, self.connect_each, self.rate = script, select_only, connect_each, rate
        self.warmup, self.window, self.tail, self.db = warmup, window, tail, db

    def command(self, log_prefix):
        duration = int(math.ceil(self.warmup + self.window + self.tail))
        cmd = ["pgbench", "-h", "127.0.0.1", "-p", str(self.adapter.port), "-U", "app", "-n",
               "-c", str(self.clients), "-j", str(self.threads), "-T", str(duration),
               "--log", "--log-prefix", log_prefix]
        if self.script:
            cmd += ["-f", self.script]
        elif self.select_only:
            cmd += ["-S"]
        if self.connect_each:
            cmd += ["-C"]
        if self.rate:
            cmd += ["--rate", str(self.rate)]
        return cmd + [self.db]

    def run(self):
        tmp = tempfile.mkdtemp(prefix="rpsim-val-pgbench-")
        prefix = os.path.join(tmp, "log")
        cmd = self.command(prefix)
        out = ""
        proc = subprocess.Popen(cmd, cwd=tmp, env=pgbench_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        reader = threading.Thread(target=lambda: setattr(self, "_out", proc.stdout.read()), daemon=True)
        reader.start()
        try:
            groups = procstat.CpuGroups({
                "pooler": self.adapter.worker_pids(),
                "postgres": lambda: postgres_pids(self.pg),
                "pgbench": [proc.pid],
            }, reaping=["postgres"], wakeups=["pooler", "pgbench", "postgres"])
            pooler_pids = self.adapter.worker_pids()
            sampler = procstat.RunnableSampler(
                lambda: pooler_pids + postgres_pids(self.pg) + [proc.pid])
            time.sleep(self.warmup)
            w0 = self.adapter.read_workers()
            s0, t0 = groups.snapshot(), time.time()
            sampler.start()
            time.sleep(self.window)
            runnable = sampler.stop()
            s1, t1 = groups.snapshot(), time.time()
            w1 = self.adapter.read_workers()
            if proc.poll() is not None:
                # Reading the consoles took so long (a loaded machine) that pgbench's -T ran out inside the window:
                # its end would count as idle time. Refuse rather than report a throughput that is too low.
                raise RuntimeError(f"pgbench ended before the measurement window closed ({time.time() - t0:.1f} s "
                                   f"after it opened); the consoles answered too slowly")
            proc.wait(timeout=self.tail + self.warmup + 60)
            reader.join(5)
            out = getattr(self, "_out", "")
            if proc.returncode != 0:
                raise RuntimeError(f"pgbench failed ({proc.returncode}): {' '.join(cmd)}\n{out[-2000:]}")
            lat, skipped = read_logs(prefix, t0, t1)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)
        cpu = procstat.delta(s0, s1, t1 - t0)
        cpu["foreign_runnable"] = runnable
        n = len(lat)
        # The window's rate comes from pgbench's log, whose every line is time-stamped; a pooler's console
        # counters are snapshots taken at an instant of the pooler's choosing (rpool publishes on a 100 ms tick),
        # so their deltas over the harness's window give each worker's *share*, not a rate. Measured on
        # 2026-11-23: rpool's two workers' counter rates summed to 1,633 TPS where pgbench logged 1,557 in the
        # same window, and each exceeded the 800 TPS that 4 servers running 5 ms sleeps can do at most.
        counted = sum(b["xact_count"] - a["xact_count"] for a, b in zip(w0, w1))
        workers = []
        for a, b in zip(w0, w1):
            d = {"index": b["index"], "pid": b["pid"], "clients": b["clients"],
                 "transactions": b["xact_count"] - a["xact_count"],
                 "queries": b["query_count"] - a["query_count"],
                 "xact_time_us": b["xact_time_us"] - a["xact_time_us"],
                 "wait_time_us": b["wait_time_us"] - a["wait_time_us"]}
            d["tps_counter"] = d["transactions"] / (t1 - t0)  # kept for the record; see above
            d["tps"] = n / (t1 - t0) * d["transactions"] / counted if counted else 0.0
            d["cpu_s"] = cpu["per_pid_cpu_s"].get(b["pid"], float("nan"))
            d["utilization"] = d["cpu_s"] / (t1 - t0)
            workers.append(d)
        return {
            "command": " ".join(cmd),
            "window_s": t1 - t0,
            "transactions": n,
            "tps": n / (t1 - t0),
            "latency_ms": {"mean": sum(lat) / n if n else float("nan"), "p50": quantile(lat, 0.5),
                           "p95": quantile(lat, 0.95), "p99": quantile(lat, 0.99), "max": lat[-1] if n else None},
            "skipped": skipped,
            "workers": workers,
            "cpu": cpu,
            "pgbench_summary": [l for l in out.splitlines() if l.startswith(("tps", "latency", "number of",
                                                                             "average connection"))],
            "average_connection_ms": _average_connection_ms(out),
        }


def _average_connection_ms(out):
    """pgbench 15 prints "average connection time = X ms" with -C: the connection set-up it keeps out of the
    per-transaction latency in its log."""
    for line in out.splitlines():
        if line.startswith("average connection time"):
            try:
                return float(line.split("=")[1].split()[0])
            except (IndexError, ValueError):
                return None
    return None


def spread_trials(adapter, clients, trials, deadline=None):
    """Experiment 1: per trial, open `clients` real connections (libpq, like pgbench's persistent clients), wait
    until every one has finished its startup (so PgBouncer, which defers accept, has accepted and counted it),
    read each worker's client count, close them all. Returns the list of per-worker count vectors."""
    import psycopg2
    dsn = f"host=127.0.0.1 port={adapter.port} dbname=bench user=app password={PGPASSWORD}"
    out = []
    for t in range(trials):
        if deadline and time.time() > deadline:
            break
        conns = []
        try:
            for _ in range(clients):
                conns.append(psycopg2.connect(dsn, connect_timeout=10))
            counts = adapter.client_counts()
            if sum(counts) != clients:
                time.sleep(0.05)
                counts = adapter.client_counts()
            out.append(counts)
        finally:
            for c in conns:
                c.close()
        # Wait until the poolers saw every close, so the next trial's counts are only its own.
        for _ in range(100):
            if sum(adapter.client_counts()) == 0:
                break
            time.sleep(0.01)
    return out
