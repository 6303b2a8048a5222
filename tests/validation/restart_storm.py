"""Experiment 6: rolling restarts of rpool under a connection storm, in a private network namespace, without and
with net.ipv4.tcp_migrate_req (a per-namespace sysctl, so the host's is never touched).

The parent side (run_case, called by validate.py) creates the namespace, brings its loopback up, sets the sysctl
there and runs this file's inner side in it (`ip netns exec NS ...`). For the case without migration, the inner
side runs in its own mount namespace where /proc/sys/net/ipv4/tcp_migrate_req is bind-mounted read-only: rpool's
rolling restart turns the sysctl on for its duration, and the read-only file makes that attempt fail (rpool then
logs that queued connections may be reset and carries on), so the kernel really resets the queues of closing
listeners. The namespace is deleted in `finally`, after any process left in it was killed by pid.

The inner side starts Postgres 15 and rpool (N workers) on the namespace's loopback, runs the storm (storm.py:
Poisson arrivals of complete sessions at a fixed rate) and, from a warm-up on, `rpool --rolling-restart` a given
number of times (each replaces the N workers one by one). It writes JSON: the storm's outcome counts (`reset`:
reset before the pooler sent a byte, i.e. by the kernel), what rpool reported (the kernel's TCPMigrateReqFailure
delta per restart) and the namespace's TcpExt counters, the restarts' times, and CPU figures.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import procstat  # noqa: E402
from adapters import pgfixture  # noqa: E402

MIGRATE = "/proc/sys/net/ipv4/tcp_migrate_req"
TCPEXT = ("TCPMigrateReqSuccess", "TCPMigrateReqFailure", "ListenOverflows", "ListenDrops")


def _counters(path, prefix, keys):
    with open(path) as f:
        lines = f.read().splitlines()
    out = {}
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith(prefix):
            for k, v in zip(names.split()[1:], values.split()[1:]):
                if k in keys:
                    out[k] = int(v)
    return out


def tcpext():
    """The namespace's TcpExt counters named in TCPEXT (/proc/net/netstat is per network namespace)."""
    return _counters("/proc/net/netstat", "TcpExt:", TCPEXT)


def passive_opens():
    """Connections the namespace's listeners completed (Tcp: PassiveOpens in /proc/net/snmp)."""
    return _counters("/proc/net/snmp", "Tcp:", ("PassiveOpens",))["PassiveOpens"]


# ---------------------------------------------------------------------------------------------- inner side

def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def inner(args):
    signal.signal(signal.SIGTERM, _terminate)
    with open(MIGRATE) as f:
        migrate_req = f.read().strip()
    out = {"migrate_req": migrate_req, "workers": args.workers, "rate": args.rate, "backlog": args.backlog,
           "auth": args.auth, "restarts": []}
    pg = pgfixture.PgServer(max_connections=200)
    pooler = storm = None
    try:
        pg.start()
        pg.sql("CREATE DATABASE bench")
        pooler = pgfixture.Pooler(pg, workers=args.workers, kind="rpool", binary=args.rpool, auth_type=args.auth,
                                  settings={"max_client_conn": "2000", "default_pool_size": "20",
                                            "shutdown_timeout": "2", "listen_backlog": str(args.backlog)})
        pooler.start()
        port = pooler.port
        t_storm = time.time()
        storm_out = os.path.join(pooler.dir, "storm.json")
        storm = subprocess.Popen([sys.executable, os.path.join(HERE, "storm.py"), "--port", str(port),
                                  "--rate", str(args.rate), "--duration", str(args.duration), "--processes",
                                  str(args.storm_processes), "--out", storm_out], start_new_session=True)
        groups = procstat.CpuGroups({
            "pooler": lambda: procstat.children_of(pooler.pid),
            "postgres": lambda: [int(open(os.path.join(pg.data, "postmaster.pid")).readline())] + procstat.children_of(
                int(open(os.path.join(pg.data, "postmaster.pid")).readline())),
            "storm": lambda: [storm.pid] + procstat.children_of(storm.pid),
        })
        # Calibration window (before any restart): CPU per connection of the pooler and of the storm, from /proc
        # over the connections the listeners completed meanwhile. The prediction takes these as inputs.
        time.sleep(1.0)
        k0, o0, t0 = groups.snapshot(), passive_opens(), time.time()
        time.sleep(max(0.5, args.warmup - 1.0))
        k1, o1, t1 = groups.snapshot(), passive_opens(), time.time()
        cal = procstat.delta(k0, k1, t1 - t0)
        n = max(1, o1 - o0)
        out["calibration"] = {"window_s": t1 - t0, "connections": o1 - o0, "cps": (o1 - o0) / (t1 - t0),
                              "pooler_per_conn_s": cal["cpu_s"]["pooler"] / n,
                              "storm_per_conn_s": cal["cpu_s"]["storm"] / n,
                              "postgres_per_conn_s": cal["cpu_s"]["postgres"] / n, "cpu": cal}
        s0, c0, w0 = groups.snapshot(), tcpext(), time.time()
        for k in range(args.passes):
            before = tcpext()
            t = time.time()
            r = subprocess.run([args.rpool, "--rolling-restart", pooler.ini], capture_output=True, text=True,
                               timeout=60)
            after = tcpext()
            out["restarts"].append({"at_s": t - t_storm, "took_s": time.time() - t, "rc": r.returncode,
                                    "report": r.stdout.strip()[-300:], "stderr": r.stderr.strip()[-300:],
                                    "tcpext": {k2: after[k2] - before.get(k2, 0) for k2 in after}})
            time.sleep(args.gap)
        s1, c1, w1 = groups.snapshot(), tcpext(), time.time()
        storm.wait(timeout=args.duration + 60)
        with open(storm_out) as f:
            out["storm"] = json.load(f)
        out["storm_started_s"] = t_storm
        out["tcpext"] = {k: c1[k] - c0.get(k, 0) for k in c1}
        out["cpu"] = procstat.delta(s0, s1, w1 - w0)
        out["log_tail"] = [ln for ln in pooler.log_text().splitlines() if "migrate_req" in ln or "reset" in ln][-8:]
        out["port"] = port
    except BaseException as e:  # noqa: BLE001 -- reported to the parent, everything is still stopped below
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc()
    finally:
        if storm is not None and storm.poll() is None:
            os.killpg(storm.pid, signal.SIGKILL)
            storm.wait()
        if pooler is not None:
            pooler.cleanup()
        pg.cleanup()
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, default=str)
    return 0 if "error" not in out else 1


# ---------------------------------------------------------------------------------------------- parent side

def _ns_pids(ns):
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


def run_case(rpool, out_json, migrate, *, workers=2, rate=1500.0, duration=20.0, warmup=3.0, passes=4, gap=1.0,
             backlog=128, storm_processes=2, cpus=None, auth="scram-sha-256", timeout=300):
    """Runs one case in a fresh namespace; returns the inner side's JSON. The namespace and whatever runs in it
    are gone when this returns or raises."""
    ns = f"rpsim-val-{os.getpid()}-{migrate}"
    proc = None
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True, text=True)
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True, capture_output=True)
        subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", f"echo {int(migrate)} > {MIGRATE}"], check=True,
                       capture_output=True)
        cmd = [sys.executable, os.path.abspath(__file__), "--inner", "--rpool", rpool, "--out", out_json,
               "--workers", str(workers), "--rate", str(rate), "--duration", str(duration), "--warmup", str(warmup),
               "--passes", str(passes), "--gap", str(gap), "--backlog", str(backlog),
               "--storm-processes", str(storm_processes), "--auth", auth]
        if not migrate:
            # rpool's rolling restart would switch migration on: the sysctl file is made read-only for it.
            script = (f"mount --bind {MIGRATE} {MIGRATE} && mount -o remount,bind,ro {MIGRATE} && exec "
                      + " ".join(cmd))
            cmd = ["unshare", "-m", "sh", "-c", script]
        if cpus:
            cmd = ["taskset", "-c", cpus] + cmd  # everything the inner side starts inherits the affinity
        proc = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, start_new_session=True)
        proc.wait(timeout=timeout)
        with open(out_json) as f:
            return json.load(f)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the inner side stops Postgres and rpool in its finally
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pid in _ns_pids(ns):  # only processes inside our own namespace: ours
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inner", action="store_true", help="the side that runs inside the namespace")
    ap.add_argument("--rpool", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=1500.0)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--passes", type=int, default=4)
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--backlog", type=int, default=128)
    ap.add_argument("--storm-processes", type=int, default=2)
    ap.add_argument("--auth", default="scram-sha-256", choices=["scram-sha-256", "md5"])
    ap.add_argument("--cpus", default=None, help="taskset CPU list for everything in the case (e.g. 0)")
    ap.add_argument("--migrate", type=int, choices=[0, 1], default=None,
                    help="(without --inner) run one case in a fresh namespace and print its JSON")
    args = ap.parse_args(argv)
    if args.inner:
        return inner(args)
    if args.migrate is None:
        print("restart_storm.py: give --inner or --migrate 0|1", file=sys.stderr)
        return 2
    doc = run_case(args.rpool, args.out, bool(args.migrate), workers=args.workers, rate=args.rate,
                   duration=args.duration, warmup=args.warmup, passes=args.passes, gap=args.gap,
                   backlog=args.backlog, storm_processes=args.storm_processes, cpus=args.cpus,
                   auth=args.auth)
    print(json.dumps({k: v for k, v in doc.items() if k not in ("traceback",)}, indent=1, default=str)[:4000])
    return 0 if "error" not in doc else 1


if __name__ == "__main__":
    sys.exit(main())
