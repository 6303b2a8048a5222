#!/usr/bin/python3
"""Soak test of rpool (issue 7): pgbench with connection churn (-C) and steady clients side by side through rpool
with 2 workers in transaction mode, for --duration seconds (default 600), sampling every process's memory and
file descriptors. Not part of the test suite; it prints figures and a verdict.

Checks, printed at the end (exit 0 if all pass, 1 if any fails, 2 if a program it needs is missing):
  memory  each rpool process's Private_Dirty (its own written pages, from /proc/PID/smaps_rollup) at the end of
          the load is within --tolerance (5%) of its level after the first minute (each level is the median of
          the samples in a --window long stretch: the one starting at --warmup and the one ending with the load);
  fds     after the clients leave, each process holds exactly as many descriptors as before any client came
          (server connections close after server_idle_timeout, set short, so this is bounded; client sockets
          must be gone at once, server sockets once that timeout passes);
  errors  rpool's log has no WARNING/ERROR/FATAL line and no abnormal client disconnect (EXPECTED_LOG lists
          what this test provokes: nothing), Postgres's log no ERROR/FATAL/PANIC/WARNING, both pgbench runs end
          with status 0 and no failed transaction, no worker was restarted, and every server session Postgres
          counted for the database (pg_stat_database) ended cleanly (none abandoned, fatal or killed).

Usage: /usr/bin/python3 bench/soak.py [--duration 600] [--rpool build-soak/rpool] [--out soak-out]
Needs root (Postgres is started as `postgres` through runuser), PostgreSQL 15 and pgbench.
"""
import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "pooler"))
from pgfixture import PG_BIN, USERS, PgServer, Pooler  # noqa: E402

# Log lines of rpool that this test provokes on purpose, as regular expressions. pgbench -C ends every
# connection with a Terminate message and the steady clients do too when -T runs out, so nothing is expected.
EXPECTED_LOG = []
# rpool's line format: "2026-11-23 10:00:00.000 UTC [pid] ROLE LEVEL: message", ROLE being "supervisor" or
# "worker N" (with a space, and never a colon).
_LEVEL = re.compile(r"\[\d+\] [^:]*?\b(WARNING|ERROR|FATAL|PANIC): ")
# LOG-level lines that still mean something went wrong for a client or server: rpool logs a client's
# disconnect at LOG only when it was not an orderly Terminate, and failed logins always.
_NOTABLE = re.compile(r"\[\d+\] [^:]*?\bLOG: (closing client|login failed|idle server \d+ sent an error|pool .*reserve pool"
                      r"|shutdown_timeout reached)")
_PG_LEVEL = re.compile(r"\b(WARNING|ERROR|FATAL|PANIC): ")

SAMPLE_FIELDS = ["t", "phase", "role", "pid", "rss_kb", "pss_kb", "private_dirty_kb", "private_clean_kb",
                 "shared_dirty_kb", "anon_kb", "fds", "client_sockets", "server_sockets", "other_fds"]


class Interrupted(Exception):
    """SIGTERM: unwinds like Ctrl-C so every finally block runs."""


# ----------------------------------------------------------------------------------------------------------
# Pure check logic (tested by tests/hardening/test_soak_checks.py without Postgres)

def median(values):
    v = sorted(values)
    if not v:
        raise ValueError("median of no values")
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def window_level(samples, t0, t1, key):
    """Median of `key` over the samples with t0 <= t <= t1 (samples: dicts with 't')."""
    inside = [s[key] for s in samples if t0 <= s["t"] <= t1]
    if not inside:
        raise ValueError(f"no sample of {key} between t={t0:.0f} s and t={t1:.0f} s")
    return median(inside)


def slope_per_minute(samples, key, t0, t1):
    """Least-squares slope of `key` per minute over t0 <= t <= t1 (None with fewer than two samples)."""
    pts = [(s["t"], s[key]) for s in samples if t0 <= s["t"] <= t1]
    if len(pts) < 2:
        return None
    mt = sum(t for t, _ in pts) / len(pts)
    mv = sum(v for _, v in pts) / len(pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    if den == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in pts) / den * 60.0


def check_memory(samples, warmup_s, load_end_s, window_s, tolerance, key="private_dirty_kb"):
    """Level after warm-up against level at the end of the load; ok when |change| <= tolerance (a fraction)."""
    first = window_level(samples, warmup_s, warmup_s + window_s, key)
    end = window_level(samples, load_end_s - window_s, load_end_s, key)
    change = (end - first) / first if first else float("inf")
    return {"key": key, "first": first, "end": end, "change_pct": 100.0 * change,
            "slope_kb_per_min": slope_per_minute(samples, key, warmup_s, load_end_s),
            "ok": abs(change) <= tolerance}


def check_fds(baseline, peak, end, client_sockets_end, server_sockets_end):
    """Descriptors back to the count taken before any client came, with no client or server socket left."""
    return {"baseline": baseline, "peak": peak, "end": end, "client_sockets_end": client_sockets_end,
            "server_sockets_end": server_sockets_end,
            "ok": end == baseline and client_sockets_end == 0 and server_sockets_end == 0}


def scan_rpool_log(text, expected=()):
    """(unexpected, expected) lines: WARNING/ERROR/FATAL/PANIC and abnormal LOG lines, split by `expected`
    (regular expressions of lines the test provoked)."""
    patterns = [re.compile(p) for p in expected]
    unexpected, provoked = [], []
    for line in text.splitlines():
        if _LEVEL.search(line) or _NOTABLE.search(line):
            (provoked if any(p.search(line) for p in patterns) else unexpected).append(line)
    return unexpected, provoked


def scan_pg_log(text):
    return [line for line in text.splitlines() if _PG_LEVEL.search(line)]


def check_sessions(before, after):
    """Postgres's pg_stat_database session counters (sessions, abandoned, fatal, killed) before the load and
    after the servers closed: the server connections rpool opened, and whether each ended cleanly (rpool
    sends Terminate before closing a healthy server, so none should be abandoned, fatal or killed)."""
    delta = [a - b for a, b in zip(after, before)]
    return {"opened": delta[0], "abandoned": delta[1], "fatal": delta[2], "killed": delta[3],
            "ok": delta[1] == delta[2] == delta[3] == 0}


def parse_pgbench(text):
    """Figures from pgbench's summary; None for any that is missing (pgbench did not finish)."""
    def grab(pattern, cast):
        m = re.search(pattern, text)
        return cast(m.group(1)) if m else None
    return {"tps": grab(r"tps = ([\d.]+)", float),
            "transactions": grab(r"number of transactions actually processed: (\d+)", int),
            "failed": grab(r"number of failed transactions: (\d+)", int),
            "latency_ms": grab(r"latency average = ([\d.]+) ms", float),
            "connection_ms": grab(r"average connection time = ([\d.]+) ms", float)}


# ----------------------------------------------------------------------------------------------------------
# Sampling /proc

def tcp_sockets():
    """inode -> (local port, remote port, state) for every IPv4/IPv6 TCP socket of this network namespace."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) < 10:
                        continue
                    lport = int(parts[1].rsplit(":", 1)[1], 16)
                    rport = int(parts[2].rsplit(":", 1)[1], 16)
                    out[parts[9]] = (lport, rport, parts[3])
        except OSError:
            pass
    return out


def fd_counts(pid, tcp, pool_port, pg_port):
    """(all fds, client sockets, server sockets) of pid; client = accepted on pool_port, server = to pg_port."""
    total = clients = servers = 0
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        total += 1
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            sock = tcp.get(target[8:-1])
            if sock is None:
                continue
            lport, rport, state = sock
            if lport == pool_port and state != "0A":  # 0A: LISTEN
                clients += 1
            elif rport == pg_port:
                servers += 1
    return total, clients, servers


def memory_kb(pid):
    """Fields of /proc/PID/smaps_rollup in kB (Rss, Pss, Private_Dirty, ...)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def sample(procs, t, phase, pool_port, pg_port):
    """One row per process; a process that is gone gives no row (the caller notices the missing pid)."""
    tcp = tcp_sockets()
    rows = []
    for role, pid in procs:
        try:
            mem = memory_kb(pid)
            total, clients, servers = fd_counts(pid, tcp, pool_port, pg_port)
        except (OSError, ValueError):
            continue
        rows.append({"t": round(t, 2), "phase": phase, "role": role, "pid": pid, "rss_kb": mem.get("Rss", 0),
                     "pss_kb": mem.get("Pss", 0), "private_dirty_kb": mem.get("Private_Dirty", 0),
                     "private_clean_kb": mem.get("Private_Clean", 0), "shared_dirty_kb": mem.get("Shared_Dirty", 0),
                     "anon_kb": mem.get("Anonymous", 0), "fds": total, "client_sockets": clients,
                     "server_sockets": servers, "other_fds": total - clients - servers})
    return rows


# ----------------------------------------------------------------------------------------------------------
# The run

def missing_programs(rpool):
    missing = [p for p in (rpool, f"{PG_BIN}/initdb", f"{PG_BIN}/pg_ctl") if not os.access(p, os.X_OK)]
    missing += [p for p in ("pgbench", "psql", "runuser", "pgrep") if shutil.which(p) is None]
    return missing


def start_pgbench(pool, args, user, out_path):
    env = dict(os.environ, PGPASSWORD=dict((n, p) for n, p, _ in USERS)[user])
    cmd = ["pgbench", "-h", "127.0.0.1", "-p", str(pool.port), "-U", user, "-n"] + args + ["bench"]
    f = open(out_path, "w")
    f.write("$ " + " ".join(cmd) + "\n")
    f.flush()
    # Own session: a Ctrl-C at the terminal reaches this script only, which then stops pgbench itself.
    return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True), f, cmd


def stop_process(p, timeout=10.0):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def worker_indices(log_text):
    """pid -> worker index from the supervisor's 'worker N started, pid P' lines."""
    return {int(m.group(2)): int(m.group(1)) for m in re.finditer(r"worker (\d+) started, pid (\d+)", log_text)}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def git_commit():
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "pooler"],
                           capture_output=True, text=True).stdout.strip()
    return r.stdout.strip() + (" (pooler/ modified)" if dirty else "")


def run(args):
    os.makedirs(args.out, exist_ok=True)
    summary = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "commit": git_commit(), "args": vars(args),
               "loadavg_start": loadavg(), "cpus": os.cpu_count()}
    samples = []
    pg = pool = None
    benches = []
    settings = {"default_pool_size": "20", "max_client_conn": "500",
                "server_idle_timeout": str(args.server_idle_timeout)}
    try:
        pg = PgServer(max_connections=200)
        pg.start()
        pg.sql("CREATE DATABASE bench")
        subprocess.run(["pgbench", "-i", "-q", "-s", "1", "-h", pg.sock, "-p", str(pg.port), "-U", "postgres",
                        "bench"], check=True, capture_output=True, timeout=120)
        pool = Pooler(pg, workers=2, pool_mode="transaction", settings=settings, binary=args.rpool)
        pool.start()
        workers = sorted(pool.worker_pids())
        index = worker_indices(pool.log_text())
        procs = [("supervisor", pool.pid)] + [(f"worker{index.get(p, '?')}", p) for p in workers]
        summary["processes"] = {role: pid for role, pid in procs}
        t0 = time.monotonic()

        def take(phase):
            rows = sample(procs, time.monotonic() - t0, phase, pool.port, pg.port)
            samples.extend(rows)
            return rows

        sessions_sql = ("SELECT sessions, sessions_abandoned, sessions_fatal, sessions_killed FROM pg_stat_database "
                        "WHERE datname = 'bench'")
        sessions_before = [int(x) for x in pg.sql(sessions_sql)[0]]
        # Baseline: a few samples before any client connects (they must agree; the last one counts).
        for _ in range(3):
            baseline_rows = take("baseline")
            time.sleep(1.0)
        baseline = {r["role"]: r["fds"] for r in baseline_rows}

        churn_args = ["-C", "-S", "-c", str(args.churn_clients), "-j", "1", "-T", str(args.duration),
                      "-P", "60"] + (["-R", str(args.churn_rate)] if args.churn_rate else [])
        steady_args = ["-c", str(args.steady_clients), "-j", "1", "-T", str(args.duration),
                       "-P", "60"] + (["-R", str(args.steady_rate)] if args.steady_rate else [])
        load_start = time.monotonic() - t0
        for name, bargs, user in (("steady", steady_args, "app"), ("churn", churn_args, "md5user")):
            p, f, cmd = start_pgbench(pool, bargs, user, os.path.join(args.out, f"pgbench-{name}.txt"))
            benches.append((name, p, f, cmd))
        deadline = time.monotonic() + args.duration + 60  # pgbench -T ends on its own; this bounds a hang
        next_sample = time.monotonic()
        pids_changed = False
        while any(p.poll() is None for _, p, _, _ in benches):
            if time.monotonic() > deadline:
                print("pgbench did not finish within --duration + 60 s; stopping it", file=sys.stderr)
                break
            if time.monotonic() >= next_sample:
                rows = take("load")
                if sorted(pool.worker_pids()) != workers or len(rows) != len(procs):
                    pids_changed = True
                next_sample += args.interval
            time.sleep(min(0.5, max(0.0, next_sample - time.monotonic())))
        for _, p, f, _ in benches:
            stop_process(p)
            f.close()
        load_end = time.monotonic() - t0
        take("load")  # the load's last instant

        # Settle: client sockets go at once, server connections after server_idle_timeout (+ a janitor tick).
        settle_limit = args.server_idle_timeout + 30.0
        settle_start = time.monotonic()
        while True:
            rows = take("settle")
            done = all(r["fds"] == baseline.get(r["role"]) for r in rows) and len(rows) == len(procs)
            if done or time.monotonic() - settle_start > settle_limit:
                break
            time.sleep(1.0)
        settle_s = time.monotonic() - settle_start
        end_rows = {r["role"]: r for r in rows}

        sessions_after = [int(x) for x in pg.sql(sessions_sql)[0]]
        # Figures from the admin console, after the descriptor count (its own connection would be counted).
        try:
            summary["show_workers"] = pool.admin("SHOW WORKERS")
        except Exception as e:  # psycopg2 missing or the console failing: the soak's verdict does not need it
            summary["show_workers_error"] = str(e)
        summary["loadavg_end"] = loadavg()
        pool.stop()
        rpool_log = pool.log_text()
        with open(pg.log) as f:
            pg_log = f.read()
        with open(os.path.join(args.out, "rpool.log"), "w") as f:
            f.write(rpool_log)

        # ------------------------------------------------------------------ checks
        ok = True
        summary["load_s"] = [load_start, load_end]
        summary["settle_s"] = settle_s
        summary["pgbench"] = {}
        for name, p, f, cmd in benches:
            with open(os.path.join(args.out, f"pgbench-{name}.txt")) as fh:
                text = fh.read()
            figures = parse_pgbench(text)
            figures["returncode"] = p.returncode
            figures["command"] = " ".join(cmd)
            figures["ok"] = p.returncode == 0 and figures["failed"] == 0 and figures["transactions"] is not None
            ok &= figures["ok"]
            summary["pgbench"][name] = figures
        # A short run keeps two separate windows: the reference starts at most half-way, each window is at most
        # a third of what follows it, but at least one sampling interval (so it holds a sample).
        warmup = min(args.warmup, (load_end - load_start) / 2)
        window = max(min(args.window, (load_end - load_start - warmup) / 3), args.interval)
        summary["warmup_s"], summary["window_s"] = warmup, window
        summary["memory"], summary["fds"] = {}, {}
        for role, pid in procs:
            series = [s for s in samples if s["role"] == role and s["phase"] == "load"]
            mem = check_memory(series, load_start + warmup, load_end, window, args.tolerance / 100.0)
            for key in ("rss_kb", "pss_kb"):
                mem[key + "_first"] = window_level(series, load_start + warmup, load_start + warmup + window, key)
                mem[key + "_end"] = window_level(series, load_end - window, load_end, key)
            summary["memory"][role] = mem
            ok &= mem["ok"]
            last = end_rows.get(role, {})
            fds = check_fds(baseline.get(role), max(s["fds"] for s in series), last.get("fds"),
                            last.get("client_sockets"), last.get("server_sockets"))
            fds["peak_client_sockets"] = max(s["client_sockets"] for s in series)
            fds["peak_server_sockets"] = max(s["server_sockets"] for s in series)
            settle = [s for s in samples if s["role"] == role and s["phase"] == "settle"]
            for kind in ("client_sockets", "server_sockets"):  # seconds after the load until none was left
                gone = [s["t"] for s in settle if s[kind] == 0]
                fds[kind + "_gone_after_s"] = round(gone[0] - load_end, 1) if gone else None
            summary["fds"][role] = fds
            ok &= fds["ok"]
        summary["server_sessions"] = check_sessions(sessions_before, sessions_after)
        ok &= summary["server_sessions"]["ok"]
        unexpected, provoked = scan_rpool_log(rpool_log, EXPECTED_LOG)
        pg_errors = scan_pg_log(pg_log)
        summary.update({"rpool_log_unexpected": unexpected, "rpool_log_expected": provoked,
                        "postgres_log_errors": pg_errors, "workers_restarted": pids_changed})
        ok &= not unexpected and not pg_errors and not pids_changed
        summary["ok"] = ok
        return ok, summary, samples
    finally:
        for _, p, f, _ in benches:
            stop_process(p)
            f.close()
        if pool is not None:
            pool.cleanup()
        if pg is not None:
            pg.cleanup()
        write_samples(args.out, samples)


def write_samples(out, samples):
    with open(os.path.join(out, "samples.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SAMPLE_FIELDS)
        w.writeheader()
        w.writerows(samples)


def report(summary):
    verdict = lambda ok: "ok  " if ok else "FAIL"  # noqa: E731
    print(f"soak: tree at {summary['commit']}, rpool {summary['args']['rpool']}, {summary['cpus']} CPUs, load average "
          f"{summary['loadavg_start']} at start, {summary['loadavg_end']} at end")
    for name, b in summary["pgbench"].items():
        conns = f", {b['transactions']} connections" if name == "churn" else ""
        print(f"[{verdict(b['ok'])}] pgbench {name}: tps {b['tps']}, transactions {b['transactions']}, failed "
              f"{b['failed']}, exit {b['returncode']}{conns}, latency {b['latency_ms']} ms\n         {b['command']}")
    for row in summary.get("show_workers", []):
        print("         SHOW WORKERS: " + ", ".join(f"{k}={v}" for k, v in row.items()))
    print(f"memory (kB; median of the {summary['window_s']:.0f} s from {summary['warmup_s']:.0f} s into the load vs "
          f"the last {summary['window_s']:.0f} s of load; check on Private_Dirty, tolerance "
          f"{summary['args']['tolerance']}%):")
    for role, m in summary["memory"].items():
        slope = m["slope_kb_per_min"]
        print(f"[{verdict(m['ok'])}] {role:<10} Private_Dirty {m['first']:.0f} -> {m['end']:.0f} "
              f"({m['change_pct']:+.2f}%, trend {slope if slope is None else round(slope, 2)} kB/min); "
              f"RSS {m['rss_kb_first']:.0f} -> {m['rss_kb_end']:.0f}; PSS {m['pss_kb_first']:.0f} -> {m['pss_kb_end']:.0f}")
    print(f"file descriptors (settled after {summary['settle_s']:.1f} s):")
    for role, d in summary["fds"].items():
        print(f"[{verdict(d['ok'])}] {role:<10} baseline {d['baseline']}, peak {d['peak']} (client sockets "
              f"{d['peak_client_sockets']}, server sockets {d['peak_server_sockets']}), end {d['end']} (client "
              f"sockets {d['client_sockets_end']}, server sockets {d['server_sockets_end']}); no client socket "
              f"{d['client_sockets_gone_after_s']} s after the load, no server socket {d['server_sockets_gone_after_s']} s")
    ss = summary["server_sessions"]
    print(f"[{verdict(ss['ok'])}] server connections rpool opened to Postgres: {ss['opened']} (abandoned "
          f"{ss['abandoned']}, fatal {ss['fatal']}, killed {ss['killed']}; from pg_stat_database)")
    print(f"[{verdict(not summary['workers_restarted'])}] workers restarted: {summary['workers_restarted']}")
    lines = summary["rpool_log_unexpected"]
    print(f"[{verdict(not lines)}] rpool log: {len(lines)} unexpected error lines, "
          f"{len(summary['rpool_log_expected'])} expected")
    for line in lines[:20]:
        print("         " + line)
    lines = summary["postgres_log_errors"]
    print(f"[{verdict(not lines)}] postgres log: {len(lines)} error lines")
    for line in lines[:20]:
        print("         " + line)
    print("PASS" if summary["ok"] else "FAIL")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=600, help="seconds of load (default 600)")
    ap.add_argument("--rpool", default=os.environ.get("RPOOL_BIN") or os.path.join(ROOT, "build", "rpool"))
    ap.add_argument("--out", default="soak-out", help="folder for samples.csv, summary.json and the logs")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="the memory reference starts this long after the load (at most half the load)")
    ap.add_argument("--window", type=float, default=30.0, help="seconds of samples behind each memory level")
    ap.add_argument("--tolerance", type=float, default=5.0, help="allowed memory change, percent")
    ap.add_argument("--server-idle-timeout", type=int, default=10)
    ap.add_argument("--steady-clients", type=int, default=8)
    ap.add_argument("--steady-rate", type=int, default=500, help="transactions/s of the steady clients (0: free)")
    ap.add_argument("--churn-clients", type=int, default=4)
    ap.add_argument("--churn-rate", type=int, default=200, help="connections/s of the -C clients (0: free)")
    args = ap.parse_args()
    if args.duration < 10 or args.interval <= 0 or args.window < 0:
        print("soak: --duration must be at least 10 s, --interval positive, --window not negative", file=sys.stderr)
        return 2
    args.rpool = os.path.abspath(args.rpool)
    args.out = os.path.abspath(args.out)
    missing = missing_programs(args.rpool)
    if missing:
        print("soak: missing: " + ", ".join(missing) + " (build rpool or pass --rpool; install postgresql-15)",
              file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("soak: needs root (Postgres is started as the postgres user through runuser)", file=sys.stderr)
        return 2

    def on_term(signo, frame):
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it even if started with SIGINT ignored
    try:
        ok, summary, _ = run(args)
    except (KeyboardInterrupt, Interrupted):
        print("soak: interrupted; everything it started is stopped", file=sys.stderr)
        return 1
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as e:
        print(f"soak: {e}", file=sys.stderr)
        return 1
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    report(summary)
    print(f"samples: {os.path.join(args.out, 'samples.csv')}, summary: {os.path.join(args.out, 'summary.json')}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
