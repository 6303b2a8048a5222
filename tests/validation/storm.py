"""A connection storm for experiment 6: Poisson arrivals of new connections at a fixed rate, each one a PostgreSQL
v3 session (startup, md5 password, `SELECT 1`, Terminate; or, when the pooler asks for SCRAM, startup and the first
SCRAM exchange, then Terminate: see session()), opened without waiting for the others, so
that many are in flight at once (pgbench -C cannot do that: each of its threads blocks in every connect). Every
connection ends in one outcome:

  ok          logged in, query answered, closed by us
  reset       the connection was reset (ECONNRESET / EOF) before the pooler sent a single byte: a connection the
              kernel had queued on a listener that closed (what tcp_migrate_req saves)
  reset_late  reset or closed after the pooler had answered something (not the listener's doing)
  refused     ECONNREFUSED at connect (no listener at all)
  error       any other failure (a protocol error, a timeout)

Run by validate.py inside the experiment's network namespace:
  /usr/bin/python3 storm.py --port P --rate R --duration S [--processes K] --out FILE.json
K processes share the rate (asyncio in each); the outcome counts and the arrival times of the resets are written
as JSON. Bounded: every connection has a 10 s timeout, in-flight connections are capped (--max-inflight).
"""
import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import random
import struct
import sys
import time

USER, PASSWORD, DATABASE = "app", "app-secret", "bench"


def startup_message():
    body = struct.pack("!I", 196608)
    for k, v in (("user", USER), ("database", DATABASE), ("application_name", "storm")):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def md5_password(salt):
    inner = hashlib.md5((PASSWORD + USER).encode()).hexdigest()
    outer = "md5" + hashlib.md5(inner.encode() + salt).hexdigest()
    body = outer.encode() + b"\0"
    return b"p" + struct.pack("!I", len(body) + 4) + body


QUERY = b"Q" + struct.pack("!I", len(b"SELECT 1\0") + 4) + b"SELECT 1\0"
TERMINATE = b"X" + struct.pack("!I", 4)


class ProtocolError(Exception):
    pass


async def read_message(reader):
    head = await reader.readexactly(5)
    kind, length = head[:1], struct.unpack("!I", head[1:])[0]
    body = await reader.readexactly(length - 4) if length > 4 else b""
    return kind, body


def sasl_initial_response():
    """SASLInitialResponse with a SCRAM-SHA-256 client-first-message (no channel binding, empty user name: the
    startup packet's counts)."""
    first = b"n,,n=,r=" + base64.b64encode(os.urandom(18))
    body = b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first
    return b"p" + struct.pack("!I", len(body) + 4) + body


async def session(host, port):
    """One connection; returns its outcome ('reset' only when the pooler had sent nothing yet). With md5 a whole
    session; with SCRAM the connection ends at the server-first-message: the pooler has done the expensive half
    of the login (PBKDF2 over the password), the client skips its own half (in production it runs elsewhere)."""
    answered = False
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(startup_message())
        while True:  # authentication, then parameters until ReadyForQuery
            kind, body = await read_message(reader)
            answered = True
            if kind == b"R":
                code = struct.unpack("!I", body[:4])[0]
                if code == 5:
                    writer.write(md5_password(body[4:8]))
                elif code == 10:
                    writer.write(sasl_initial_response())
                elif code == 11:
                    writer.write(TERMINATE)
                    await writer.drain()
                    return "ok"
                elif code != 0:
                    raise ProtocolError(f"authentication method {code}")
            elif kind == b"E":
                raise ProtocolError(body[:200].decode(errors="replace"))
            elif kind == b"Z":
                break
        writer.write(QUERY)
        while True:
            kind, body = await read_message(reader)
            if kind == b"E":
                raise ProtocolError(body[:200].decode(errors="replace"))
            if kind == b"Z":
                break
        writer.write(TERMINATE)
        await writer.drain()
        return "ok"
    except ConnectionRefusedError:
        return "refused"
    except (ConnectionResetError, asyncio.IncompleteReadError, BrokenPipeError):
        return "reset_late" if answered else "reset"
    except (ProtocolError, OSError, asyncio.TimeoutError):
        return "error"
    finally:
        if writer is not None:
            writer.close()


async def storm(host, port, rate, duration, max_inflight, seed):
    rng = random.Random(seed)
    counts = {"ok": 0, "reset": 0, "reset_late": 0, "refused": 0, "error": 0, "skipped": 0}
    resets_at = []
    inflight = set()
    t0 = time.monotonic()
    next_at = 0.0

    async def one(at):
        try:
            outcome = await asyncio.wait_for(session(host, port), 10.0)
        except asyncio.TimeoutError:
            outcome = "error"
        counts[outcome] += 1
        if outcome == "reset":
            resets_at.append(at)

    while True:
        next_at += rng.expovariate(rate)
        if next_at >= duration:
            break
        delay = t0 + next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(inflight) >= max_inflight:
            counts["skipped"] += 1
            continue
        task = asyncio.ensure_future(one(time.time()))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
    if inflight:
        await asyncio.wait(inflight, timeout=15)
    return {"counts": counts, "resets_at": resets_at, "wall_s": time.monotonic() - t0}


def run_one(args_tuple):
    host, port, rate, duration, max_inflight, seed = args_tuple
    return asyncio.run(storm(host, port, rate, duration, max_inflight, seed))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True, help="new connections per second, all processes together")
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--max-inflight", type=int, default=400, help="per process")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.processes < 1:
        print("storm.py: --rate, --duration and --processes must be positive", file=sys.stderr)
        return 2
    jobs = [(args.host, args.port, args.rate / args.processes, args.duration, args.max_inflight, args.seed + i)
            for i in range(args.processes)]
    started = time.time()
    with multiprocessing.Pool(args.processes) as pool:
        parts = pool.map(run_one, jobs)
    total = {k: sum(p["counts"][k] for p in parts) for k in parts[0]["counts"]}
    doc = {"started": started, "rate": args.rate, "duration_s": args.duration, "processes": args.processes,
           "max_inflight": args.max_inflight,
           "counts": total, "resets_at": sorted(t for p in parts for t in p["resets_at"]),
           "wall_s": max(p["wall_s"] for p in parts), "pid": os.getpid()}
    with open(args.out, "w") as f:
        json.dump(doc, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
