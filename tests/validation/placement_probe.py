#!/usr/bin/python3
"""How much CPU a select-only transaction costs depending on where the processes run (a probe, not an experiment).

One PgBouncer process with a pool of 20, pgbench -S with -j 2 (the calibration's set-up), and three placements,
each set with sched_setaffinity on every thread of the pooler, of Postgres (postmaster and backends) and of
pgbench:
  free   the kernel places everything on both cpus (what the calibration and the experiments measure);
  one    everything on cpu 0: no message crosses cpus and no wake-up interrupts another cpu;
  split  the pooler and pgbench on cpu 0, Postgres on cpu 1: both messages between pooler and Postgres cross;
  apart  the pooler and Postgres on cpu 0, pgbench on cpu 1: both messages between pgbench and the pooler cross.
For each placement (in the order given, so that free can come first and last): TPS, CPU us per transaction of each
group from /proc (utime + stime over a 5 s window inside a 9 s run), and interprocessor interrupts per transaction
(/proc/interrupts RES + CAL). rpsim charges a wake-up that interrupts another cpu (hosts[].ipi_wakeup) and nothing
for a message that is handled on another cpu than the one that sent it; comparing one, split and free says what
the second costs. Findings: tests/validation/README.md, "What changed (session 12)".

  /usr/bin/python3 tests/validation/placement_probe.py [--clients 8] [--placements free,one,split,free]

Needs root, like validate.py; switches autogroup off while it measures and restores it.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "pooler"))
import procstat  # noqa: E402
import validate  # noqa: E402
import workload  # noqa: E402
from pgfixture import PgServer, Pooler  # noqa: E402

# cpus of (pooler, Postgres, pgbench) per placement
PLACEMENTS = {"free": ({0, 1}, {0, 1}, {0, 1}), "one": ({0}, {0}, {0}), "split": ({0}, {1}, {0}),
              "apart": ({0}, {0}, {1})}


def set_affinity(pid, cpus):
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass  # a thread that just ended


def cpu_of(pids):
    return sum(procstat.proc_cpu_seconds(p) or 0.0 for p in pids)


def measure(pg, pooler_pid, port, clients, placement, window=5.0, run_s=9):
    pooler_cpus, postgres_cpus, pgbench_cpus = PLACEMENTS[placement]
    set_affinity(pooler_pid, pooler_cpus)
    for pid in workload.postgres_pids(pg):
        set_affinity(pid, postgres_cpus)
    cmd = ["taskset", "-c", ",".join(map(str, sorted(pgbench_cpus))), "pgbench", "-h", "127.0.0.1", "-p", str(port),
           "-U", "app", "-n", "-S", "-T", str(run_s), "-c", str(clients), "-j", "2", "bench"]
    proc = subprocess.Popen(cmd, env=workload.pgbench_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)  # the pool's new backends exist now: they inherit the postmaster's cpus, but set them all
        postgres = workload.postgres_pids(pg)
        for pid in postgres:
            set_affinity(pid, postgres_cpus)
        groups = {"pooler": [pooler_pid], "postgres": postgres, "pgbench": [proc.pid]}
        c0, i0, t0 = {g: cpu_of(p) for g, p in groups.items()}, procstat.interprocessor_interrupts(), time.time()
        time.sleep(window)
        c1, i1, t1 = {g: cpu_of(p) for g, p in groups.items()}, procstat.interprocessor_interrupts(), time.time()
        out, err = proc.communicate(timeout=run_s + 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed under placement {placement}: {err.strip()}")
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    tx = tps * (t1 - t0)  # pgbench's average rate over the window (a closed loop in steady state)
    per = {g: (c1[g] - c0[g]) / tx * 1e6 for g in groups}
    ipis = (i1 - i0) / tx if i0 is not None and i1 is not None else float("nan")
    return tps, per, ipis


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--placements", default="free,one,split,free")
    args = ap.parse_args(argv)
    placements = args.placements.split(",")
    for p in placements:
        if p not in PLACEMENTS:
            sys.exit(f"placement_probe.py: unknown placement {p!r} in --placements (one of {', '.join(PLACEMENTS)})")
    if os.cpu_count() < 2:
        sys.exit("placement_probe.py: needs at least 2 cpus")
    with validate.autogroup_off(), PgServer(max_connections=200) as pg:
        pg.sql("CREATE DATABASE bench")
        subprocess.run(["pgbench", "-i", "-q", "-s", "1", "-h", pg.sock, "-p", str(pg.port), "-U", "postgres",
                        "bench"], check=True, capture_output=True)
        pooler = Pooler(pg, workers=1, pool_mode="transaction", kind="pgbouncer",
                        settings={"default_pool_size": "20", "max_client_conn": "500"},
                        databases={"bench": f"host=127.0.0.1 port={pg.port} dbname=bench"})
        try:
            pooler.start()
            with open(glob.glob(os.path.join(pooler.dir, "p*", "pgbouncer.pid"))[0]) as f:
                pooler_pid = int(f.read().strip())
            print(f"1 PgBouncer process, pool 20, pgbench -S -c {args.clients} -j 2; CPU us per transaction")
            print(f"{'placement':<10} {'tps':>8} {'pooler':>7} {'postgres':>9} {'pgbench':>8} {'total':>7} "
                  f"{'ipis/tx':>8}")
            for p in placements:
                tps, per, ipis = measure(pg, pooler_pid, pooler.port, args.clients, p)
                print(f"{p:<10} {tps:>8.0f} {per['pooler']:>7.1f} {per['postgres']:>9.1f} {per['pgbench']:>8.1f} "
                      f"{sum(per.values()):>7.1f} {ipis:>8.3f}", flush=True)
        finally:
            pooler.cleanup()


if __name__ == "__main__":
    main()
