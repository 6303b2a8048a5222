#!/usr/bin/python3
"""rpool versus PgBouncer: pgbench -S through each pooler (2 workers/processes, so_reuseport, transaction mode,
pool 20) at several client counts. Prints TPS, mean and p99 latency, and the pooler's CPU time per transaction
(utime+stime of all its processes from /proc, and that split into user and system time), plus the rpool/PgBouncer
ratios and the floor of the CPU ratio: what it would be if rpool's own code cost nothing (its system time alone
against PgBouncer's total).

Usage: /usr/bin/python3 bench/rpool/bench.py [--seconds 10] [--clients 16,64] [--rpool build-pool/rpool]
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "pooler"))
from pgfixture import USERS, PgServer, Pooler  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """(user, system) CPU seconds of the processes."""
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user += int(fields[11])  # utime
            system += int(fields[12])  # stime
        except OSError:
            pass
    return user / TICKS, system / TICKS


def pooler_pids(p):
    if p.kind == "rpool":
        return [p.pid] + p.worker_pids()
    pids = []
    for pidfile in glob.glob(os.path.join(p.dir, "p*", "pgbouncer.pid")):
        with open(pidfile) as f:
            pids.append(int(f.read().strip()))
    return pids


def run_pgbench(p, clients, seconds):
    logdir = tempfile.mkdtemp(prefix="pgbench-log-")
    env = dict(os.environ, PGPASSWORD=dict((n, pw) for n, pw, _ in USERS)["app"])
    pids = pooler_pids(p)
    before = cpu_seconds(pids)
    r = subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", str(p.port), "-U", "app", "-n", "-S", "-T", str(seconds),
                        "-c", str(clients), "-j", "2", "-l", "--log-prefix", os.path.join(logdir, "tx"), "bench"],
                       capture_output=True, text=True, env=env)
    after = cpu_seconds(pids)
    if r.returncode != 0:
        raise RuntimeError(r.stdout + r.stderr)
    tps = float(re.search(r"tps = ([\d.]+)", r.stdout).group(1))
    count = int(re.search(r"number of transactions actually processed: (\d+)", r.stdout).group(1))
    failed = int(re.search(r"number of failed transactions: (\d+)", r.stdout).group(1))
    lat = []
    for name in glob.glob(os.path.join(logdir, "tx*")):
        with open(name) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
    shutil.rmtree(logdir, ignore_errors=True)
    lat.sort()
    mean = sum(lat) / len(lat) / 1000 if lat else float("nan")
    p99 = lat[int(len(lat) * 0.99)] / 1000 if lat else float("nan")
    per_tx = [(a - b) / max(count, 1) * 1e6 for a, b in zip(after, before)]
    return {"tps": tps, "mean_ms": mean, "p99_ms": p99, "cpu_us_per_tx": sum(per_tx), "user_us_per_tx": per_tx[0],
            "sys_us_per_tx": per_tx[1], "failed": failed, "count": count}


def median(values):
    v = sorted(values)
    return v[len(v) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--clients", default="16,64")
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per pooler; medians are printed")
    ap.add_argument("--rpool", default=os.path.join(ROOT, "build-pool", "rpool"))
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--server-unix", action="store_true",
                    help="both poolers reach Postgres over its unix socket instead of loopback TCP")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    settings = {"default_pool_size": "20", "max_client_conn": "500"}
    kinds = ("rpool", "pgbouncer")
    with PgServer(max_connections=200) as pg:
        pg.sql("CREATE DATABASE bench")
        subprocess.run(["pgbench", "-i", "-q", "-s", str(args.scale), "-h", pg.sock, "-p", str(pg.port), "-U",
                        "postgres", "bench"], check=True, capture_output=True)
        host = pg.sock if args.server_unix else "127.0.0.1"
        databases = {"bench": f"host={host} port={pg.port} dbname=bench"}
        poolers = {kind: Pooler(pg, workers=2, pool_mode="transaction", settings=settings, kind=kind,
                                databases=databases, binary=args.rpool if kind == "rpool" else None)
                   for kind in kinds}
        runs = {}
        try:
            for p in poolers.values():
                p.start()
                run_pgbench(p, 8, 2)  # warm the pools
            # Both poolers stay up and take turns, so a change in background load hits both alike.
            for _ in range(args.rounds):
                for c in clients:
                    for kind in kinds:
                        runs.setdefault((kind, c), []).append(run_pgbench(poolers[kind], c, args.seconds))
        finally:
            for p in poolers.values():
                p.cleanup()
        results = {k: {m: median([r[m] for r in v]) for m in v[0]} for k, v in runs.items()}
        print(f"pgbench -S, {args.seconds} s x {args.rounds} alternating rounds (medians), 2 workers/processes, "
              f"transaction mode, pool 20, {os.cpu_count()} CPUs, pooler to Postgres over "
              f"{'unix socket' if args.server_unix else 'loopback TCP'}")
        print(f"{'pooler':<10} {'clients':>7} {'tps':>10} {'mean ms':>8} {'p99 ms':>8} {'cpu us/tx':>10} "
              f"{'user':>6} {'system':>6} {'failed':>6}")
        for c in clients:
            for kind in kinds:
                r = results[(kind, c)]
                print(f"{kind:<10} {c:>7} {r['tps']:>10.0f} {r['mean_ms']:>8.3f} {r['p99_ms']:>8.3f} "
                      f"{r['cpu_us_per_tx']:>10.2f} {r['user_us_per_tx']:>6.2f} {r['sys_us_per_tx']:>6.2f} "
                      f"{r['failed']:>6}")
            a, b = results[("rpool", c)], results[("pgbouncer", c)]
            print(f"{'ratio':<10} {c:>7} {a['tps'] / b['tps']:>10.2f} {a['mean_ms'] / b['mean_ms']:>8.2f} "
                  f"{a['p99_ms'] / b['p99_ms']:>8.2f} {a['cpu_us_per_tx'] / b['cpu_us_per_tx']:>10.2f} "
                  f"{a['user_us_per_tx'] / b['user_us_per_tx']:>6.2f} {a['sys_us_per_tx'] / b['sys_us_per_tx']:>6.2f}"
                  f"   (rpool/PgBouncer)")
            print(f"{'floor':<10} {c:>7} {'':>10} {'':>8} {'':>8} {a['sys_us_per_tx'] / b['cpu_us_per_tx']:>10.2f}"
                  f"   (rpool's system time alone / PgBouncer's CPU: the ratio if rpool's own code cost nothing)")


if __name__ == "__main__":
    main()
