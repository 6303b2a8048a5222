#!/usr/bin/python3
"""The benchmark's reference system (bench/reference.json) written in SimPy, for the side-by-side figure.

Same system as rpsim runs on that scenario: per pooler process, a single-threaded event loop on its own core
(a FIFO server that spends an exponential 200 us of CPU on each query), then a pool of 8 server connections
taken in FIFO order, each held for Postgres's exponential 2 ms (a pure delay: no CPU), released when the
result comes back; every network hop takes zero time and clients start their next transaction at once. Each
client is pinned to one process for the whole run: `--assignment` gives how many clients each process holds
(rpsim's `assignment`, or the spread its kernel hash produced).

Written the way a SimPy user would write it (Resource requests in `with` blocks, one generator per client), so
the speed figure is that of ordinary SimPy code, not of a tuned special case.

Prints one JSON object: per replication the throughput and mean latency of the transactions that finished in
the measured window, the events SimPy processed, and the process CPU time the simulation took.
"""
import argparse
import json
import random
import sys
import time

import simpy


def client(env, loop, pool, rng, cpu_mean, server_mean, window, stats):
    measure_start, end = window
    while True:
        start = env.now
        # The pooler process's event loop reads the query and forwards it: one CPU burst, FIFO behind others.
        with loop.request() as turn:
            yield turn
            yield env.timeout(rng.expovariate(1.0 / cpu_mean))
        # A server connection from the process's own pool (FIFO wait), held while Postgres works.
        with pool.request() as server:
            yield server
            yield env.timeout(rng.expovariate(1.0 / server_mean))
        now = env.now
        if measure_start <= now <= end:
            stats[0] += 1
            stats[1] += now - start


def replication(seed, r, assignment, pool_size, cpu_mean, server_mean, warmup, duration):
    env = simpy.Environment()
    # One stream per replication; rpsim draws from its own streams, so the two agree in distribution only.
    rng = random.Random(seed * 1_000_003 + r)
    stats = [0, 0.0]  # transactions finished in the window, their summed latency
    window = (warmup, warmup + duration)
    for clients in assignment:
        loop = simpy.Resource(env, capacity=1)
        pool = simpy.Resource(env, capacity=pool_size)
        for _ in range(clients):
            env.process(client(env, loop, pool, rng, cpu_mean, server_mean, window, stats))
    cpu0 = time.process_time()
    env.run(until=warmup + duration)
    cpu = time.process_time() - cpu0
    # SimPy numbers every event it schedules (env._eid); those still queued at the end never ran.
    events = next(env._eid) - len(env._queue)
    n, latency_sum = stats
    return {
        "throughput_tps": n / duration,
        "latency_mean_ms": 1e3 * latency_sum / n if n else 0.0,
        "transactions": n,
        "events": events,
        "cpu_s": cpu,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignment", required=True, help="clients per process, comma-separated (e.g. 13,15,19,17)")
    ap.add_argument("--pool-size", type=int, default=8)
    ap.add_argument("--cpu-us", type=float, default=200.0, help="mean pooler CPU per transaction (exponential)")
    ap.add_argument("--server-ms", type=float, default=2.0, help="mean Postgres time per transaction (exponential)")
    ap.add_argument("--warmup", type=float, default=5.0, help="simulated seconds discarded first")
    ap.add_argument("--duration", type=float, default=60.0, help="simulated seconds measured")
    ap.add_argument("--replications", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    assignment = [int(x) for x in args.assignment.split(",") if x.strip()]
    reps = [
        replication(args.seed, r, assignment, args.pool_size, args.cpu_us * 1e-6, args.server_ms * 1e-3,
                    args.warmup, args.duration)
        for r in range(args.replications)
    ]
    json.dump({"simpy_version": simpy.__version__, "assignment": assignment, "replications": reps}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
