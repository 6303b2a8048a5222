"""Faults under pgbench load (issue 7, "Faults"): real PostgreSQL 15 and rpool, through tests/pooler/pgfixture.py.

Each test injects one fault while pgbench writes through rpool, and checks four things:
  (a) what clients see: a PostgreSQL error (with the SQLSTATE where one is meaningful) or, where no process is
      left to send one (a worker killed with SIGKILL), a closed connection -- never a wait longer than the
      configured timeouts (every wait below is bounded, and the bound is named where it is asserted);
  (b) rpool recovers by itself: new transactions succeed within a stated bound, nobody restarts rpool;
  (c) no backend stays "idle in transaction" longer than a short grace (IDLE_TX_GRACE);
  (d) nothing acknowledged is lost: every transaction pgbench saw committed is a row in the ledger table.

The ledger claim, per pgbench client c (pgbench's :client_id):
      committed(c) <= rows(c) <= committed(c) + (1 if c was aborted else 0)
committed(c) is the number of transactions pgbench logged as finished (--log), which is also the summary's
"actually processed" total. Each transaction of LEDGER_SCRIPT inserts exactly one row. A transaction pgbench
logged got its COMMIT acknowledged, so its row must be there (the left side; the database runs these commits
with synchronous_commit = on, so even an immediate shutdown keeps them: WAL is written before the commit is
acknowledged, and fsync = off only matters if the kernel itself crashes). The right side: a client whose
connection broke may have had its COMMIT carried out without hearing the answer -- at most one such commit per
broken connection, and pgbench 15 ends a client at its first broken connection ("client N aborted"), so each
aborted client adds at most one row; a client that was never aborted adds none (pgbench -T lets the current
transaction finish before a client stops, so no transaction is in flight when pgbench exits normally).

Wall time: about 90 s on the shared 2-core machine (load average 7-16 from other builds).
"""
import glob
import hashlib
import itertools
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pooler"))
from pgfixture import USERS  # noqa: E402
from conftest import make_rpool, pg  # noqa: E402,F401  (pytest fixtures, used by name)

PASSWORDS = dict((name, password) for name, password, _ in USERS)

# Timeouts given to rpool in every test; the bounds below are derived from them.
TIMEOUTS = {
    "query_wait_timeout": "5",      # a client waiting for a server gets 08P01 after this
    "server_connect_timeout": "3",  # a server that does not answer its connect/login
    "client_login_timeout": "5",
    "client_write_timeout": "2",    # a client that reads none of its results this long is closed
}
QUERY_WAIT = float(TIMEOUTS["query_wait_timeout"])
# Scheduling slack on a loaded 2-core machine: the janitor ticks every 0.1 s; Python, pgbench and Postgres
# share the two cores with the other engineers' builds.
SLACK = 5.0
IDLE_TX_GRACE = 3.0  # a backend left in a transaction by a broken connection must be gone within this
RECOVERY_BOUND = 5.0  # after the fault ends, a new transaction through rpool succeeds within this

LEDGER_SCRIPT = """BEGIN;
INSERT INTO ledger(run, client) VALUES (:run, :client_id);
COMMIT;
"""

_run_ids = itertools.count(1)


# ----------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def ledger(pg):
    """The ledger table in database bench; commits there are acknowledged only once their WAL is written."""
    pg.sql("ALTER DATABASE bench SET synchronous_commit = on")
    pg.sql("CREATE TABLE IF NOT EXISTS ledger(id bigserial PRIMARY KEY, run int NOT NULL, client int NOT NULL, "
           "at timestamptz NOT NULL DEFAULT clock_timestamp())", db="bench")
    pg.sql("CREATE TABLE IF NOT EXISTS pending(id bigserial PRIMARY KEY, run int NOT NULL, how text NOT NULL)",
           db="bench")
    return pg


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="rpool-faults-")
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def benches():
    """Every pgbench a test starts is killed at the end, also when the test fails."""
    started = []
    yield started
    for b in started:
        b.kill()


def start_rpool(make_rpool, **kw):
    settings = dict(TIMEOUTS)
    settings.update(kw.pop("settings", {}))
    return make_rpool(settings=settings, **kw)


# ----------------------------------------------------------------------------------------------------------------
# A small PostgreSQL protocol client: it reports the SQLSTATE of every error and never waits without a bound.


class PgError(Exception):
    def __init__(self, fields):
        self.sqlstate = fields.get("C", "")
        self.severity = fields.get("S", "")
        self.message = fields.get("M", "")
        super().__init__(f"{self.severity} {self.sqlstate}: {self.message}")


class Closed(Exception):
    """The connection ended without a PostgreSQL error."""


class Hung(Exception):
    """No answer within the bound."""


class RawClient:
    def __init__(self, rp, user="app", db="bench", timeout=10.0, unix_dir=None):
        self.rp, self.user, self.db, self.timeout, self.unix_dir = rp, user, db, timeout, unix_dir
        self.sock = None
        self.buf = b""

    def connect(self):
        """Logs in (md5, as rpool asks); raises PgError, Closed or Hung."""
        deadline = time.monotonic() + self.timeout
        try:
            if self.unix_dir:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(self.timeout)
                self.sock.connect(os.path.join(self.unix_dir, f".s.PGSQL.{self.rp.port}"))
            else:
                self.sock = socket.create_connection(("127.0.0.1", self.rp.port), timeout=self.timeout)
        except socket.timeout:
            raise Hung("connect")
        except OSError as e:
            raise Closed(f"connect: {e}")
        body = struct.pack("!I", 196608) + f"user\0{self.user}\0database\0{self.db}\0\0".encode()
        self._send(struct.pack("!I", len(body) + 4) + body)
        while True:
            kind, payload = self._message(deadline)
            if kind == b"R":
                code = struct.unpack("!I", payload[:4])[0]
                if code == 5:
                    inner = hashlib.md5((PASSWORDS[self.user] + self.user).encode()).hexdigest()
                    outer = "md5" + hashlib.md5(inner.encode() + payload[4:8]).hexdigest()
                    data = outer.encode() + b"\0"
                    self._send(b"p" + struct.pack("!I", len(data) + 4) + data)
                elif code != 0:
                    raise AssertionError(f"unexpected authentication request {code}")
            elif kind == b"Z":
                return self

    def query(self, sql, timeout=None):
        """Simple query; returns the rows (lists of str) of the last result. Raises PgError, Closed or Hung."""
        deadline = time.monotonic() + (timeout or self.timeout)
        data = sql.encode() + b"\0"
        self._send(b"Q" + struct.pack("!I", len(data) + 4) + data)
        rows, error = [], None
        while True:
            kind, payload = self._message(deadline)
            if kind == b"T":
                rows = []
            elif kind == b"D":
                n = struct.unpack("!H", payload[:2])[0]
                pos, row = 2, []
                for _ in range(n):
                    ln = struct.unpack("!i", payload[pos:pos + 4])[0]
                    pos += 4
                    row.append(None if ln < 0 else payload[pos:pos + ln].decode())
                    pos += max(ln, 0)
                rows.append(row)
            elif kind == b"E" and error is None:
                error = PgError(self._fields(payload))
            elif kind == b"Z":
                if error:
                    raise error
                return rows

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def _send(self, data):
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise Hung("send")
        except OSError as e:
            # The peer may have said why before closing: read what is there.
            try:
                kind, payload = self._message(time.monotonic() + 1.0)
                if kind == b"E":
                    raise PgError(self._fields(payload))
            except (Closed, Hung):
                pass
            raise Closed(f"send: {e}")

    @staticmethod
    def _fields(payload):
        out = {}
        for part in payload.split(b"\0"):
            if part:
                out[chr(part[0])] = part[1:].decode(errors="replace")
        return out

    def _message(self, deadline):
        while True:
            if len(self.buf) >= 5:
                ln = struct.unpack("!I", self.buf[1:5])[0]
                if len(self.buf) >= 1 + ln:
                    kind, payload = self.buf[:1], self.buf[5:1 + ln]
                    self.buf = self.buf[1 + ln:]
                    if kind == b"E" and self._fields(payload).get("S") == "FATAL":
                        raise PgError(self._fields(payload))
                    return kind, payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise Hung("no answer")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise Hung("no answer")
            except OSError as e:
                raise Closed(f"recv: {e}")
            if not chunk:
                raise Closed("EOF")
            self.buf += chunk


def outcome(fn):
    """Runs fn; returns ('ok', value), ('error', sqlstate, message), ('closed', why) or ('hung', what)."""
    try:
        return ("ok", fn())
    except PgError as e:
        return ("error", e.sqlstate, e.message)
    except Closed as e:
        return ("closed", str(e))
    except Hung as e:
        return ("hung", str(e))


def one_transaction(rp, run, timeout=10.0, **kw):
    """A fresh client writes one ledger row in an explicit transaction (client id -1)."""
    c = RawClient(rp, timeout=timeout, **kw)
    try:
        c.connect()
        c.query("BEGIN")
        c.query(f"INSERT INTO ledger(run, client) VALUES ({run}, -1)")
        c.query("COMMIT")
        return True
    finally:
        c.close()


def wait_until_serving(rp, run, bound, **kw):
    """Polls with fresh clients until a transaction commits; returns the seconds it took (fails past bound)."""
    t0 = time.monotonic()
    seen = []
    while True:
        r = outcome(lambda: one_transaction(rp, run, timeout=max(1.0, bound), **kw))
        if r[0] == "ok":
            return time.monotonic() - t0
        assert r[0] != "hung", f"a probe hung: {r}"
        seen.append(r)
        assert time.monotonic() - t0 < bound, f"rpool did not recover within {bound} s: {seen[-3:]}"
        time.sleep(0.1)


# ----------------------------------------------------------------------------------------------------------------
# pgbench with the ledger script


class Bench:
    """pgbench -f LEDGER_SCRIPT through rpool, in the background, logging every finished transaction."""

    def __init__(self, rp, workdir, clients, duration, host="127.0.0.1", extra=()):
        self.run = next(_run_ids)
        self.clients = clients
        self.duration = duration
        self.dir = os.path.join(workdir, f"bench{self.run}")
        os.makedirs(self.dir)
        script = os.path.join(self.dir, "ledger.sql")
        with open(script, "w") as f:
            f.write(LEDGER_SCRIPT)
        cmd = ["pgbench", "-h", host, "-p", str(rp.port), "-U", "app", "-n", "-c", str(clients), "-j", "2",
               "-T", str(duration), "-f", script, "-D", f"run={self.run}", "--log",
               f"--log-prefix={os.path.join(self.dir, 'tx')}"] + list(extra) + ["bench"]
        env = dict(os.environ, PGPASSWORD=PASSWORDS["app"], PGCONNECT_TIMEOUT="10")
        self.out_path = os.path.join(self.dir, "out.txt")
        self.out = open(self.out_path, "w")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT, env=env)
        self.elapsed = None

    def finish(self, within=None):
        """Waits for pgbench: at most duration + query_wait_timeout + SLACK s from its start, or `within` s from
        now; returns its report."""
        bound = self.duration + QUERY_WAIT + SLACK
        if within is not None:
            bound = time.monotonic() - self.t0 + within
        try:
            self.proc.wait(max(0.1, self.t0 + bound - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"pgbench ran past {bound:.1f} s (-T {self.duration}): a client hung\n{self.output()}")
        self.elapsed = time.monotonic() - self.t0
        self.out.close()
        return self.report()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.out.closed:
            self.out.close()

    def output(self):
        with open(self.out_path) as f:
            return f.read()

    def report(self):
        text = self.output()
        committed = Counter()
        for path in glob.glob(os.path.join(self.dir, "tx.*")):
            with open(path) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) >= 3 and fields[2] not in ("failed", "skipped"):
                        committed[int(fields[0])] += 1
        m = re.search(r"number of transactions actually processed: (\d+)", text)
        aborted = set(int(c) for c in re.findall(r"client (\d+) (?:script \d+ )?aborted", text))
        # What the aborted clients were told, client numbers removed.
        errors = sorted(set(re.sub(r"client \d+", "client N", line.strip()) for line in text.splitlines()
                            if "aborted" in line or "FATAL" in line or "ERROR" in line or "closed" in line))
        return {"rc": self.proc.returncode, "text": text, "committed": committed, "errors": errors,
                "processed": int(m.group(1)) if m else None, "aborted": aborted}


def check_ledger(pg, bench, rep):
    """(d): per client, committed <= rows <= committed + (1 if aborted). Returns (rows, committed, aborted)."""
    rows = Counter({int(c): int(n) for c, n in
                    pg.sql(f"SELECT client, count(*) FROM ledger WHERE run = {bench.run} AND client >= 0 "
                           f"GROUP BY client", db="bench")})
    committed = rep["committed"]
    if rep["processed"] is not None:
        # The summary and the per-transaction log must agree, or the log is not the count pgbench reported.
        assert rep["processed"] == sum(committed.values()), (rep["processed"], committed, rep["text"])
    assert set(rows) <= set(range(bench.clients)), rows
    for c in range(bench.clients):
        extra = 1 if c in rep["aborted"] else 0
        assert committed[c] <= rows[c] <= committed[c] + extra, \
            (f"client {c}: {rows[c]} rows, {committed[c]} committed, aborted={c in rep['aborted']}", rep["text"])
    if not rep["aborted"]:
        assert rep["rc"] == 0, rep["text"]
    return sum(rows.values()), sum(committed.values()), len(rep["aborted"])


def pg_clock(pg):
    return pg.sql("SELECT clock_timestamp()")[0][0]


def assert_no_idle_in_transaction(pg, grace=IDLE_TX_GRACE, since=None):
    """(c): polls pg_stat_activity until no backend of bench is idle in transaction; fails after `grace` s.

    With `since` (a Postgres timestamp taken when the fault ended) only backends that have been idle in a
    transaction since before then count: pgbench's own clients, still running, pass through that state between
    their statements every few milliseconds, but never stay in it."""
    t0 = time.monotonic()
    since_sql = f"'{since}'" if since else "clock_timestamp()"
    while True:
        rows = pg.sql("SELECT pid, query FROM pg_stat_activity WHERE datname = 'bench' "
                      f"AND state LIKE 'idle in transaction%' AND state_change < {since_sql}")
        if not rows:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < grace, f"backends still idle in transaction after {grace} s: {rows}"
        time.sleep(0.1)


def wait_rows(pg, run, at_least, bound=20.0):
    """Waits until pgbench has committed some rows (the load is really running before the fault)."""
    t0 = time.monotonic()
    while True:
        n = int(pg.sql(f"SELECT count(*) FROM ledger WHERE run = {run}", db="bench")[0][0])
        if n >= at_least:
            return n
        assert time.monotonic() - t0 < bound, f"pgbench wrote only {n} rows in {bound} s"
        time.sleep(0.05)


def after_load(pg, rp, workdir, benches, clients=4, duration=2, host="127.0.0.1"):
    """(b) with load: a fresh pgbench after the fault runs without a single abort and loses nothing."""
    b = Bench(rp, workdir, clients, duration, host=host)
    benches.append(b)
    rep = b.finish()
    rows, committed, aborted = check_ledger(pg, b, rep)
    assert aborted == 0 and rep["rc"] == 0, rep["text"]
    assert committed > 0 and rows == committed, (rows, committed)
    return committed


def note(**figures):
    """Figures for the report: shown with pytest -s."""
    print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))


# ----------------------------------------------------------------------------------------------------------------
# Postgres stopped and started


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_stopped_and_started(ledger, make_rpool, workdir, benches, mode):
    pg = ledger
    rp = start_rpool(make_rpool, workers=2, pool_mode="transaction")
    bench = Bench(rp, workdir, clients=4, duration=6)
    benches.append(bench)
    wait_rows(pg, bench.run, 20)
    # A client inside a transaction when Postgres goes away.
    inside = RawClient(rp).connect()
    # The ledger's claim rests on this (see the module's comment): pooled servers commit synchronously.
    assert inside.query("SHOW synchronous_commit") == [["on"]]
    inside.query("BEGIN")
    inside.query(f"INSERT INTO ledger(run, client) VALUES ({bench.run}, -2)")
    t_stop = time.monotonic()
    pg.stop(mode)
    try:
        # (a) While Postgres is down: the client in a transaction gets an error (Postgres' own 57P01 when it
        # could still send one, else rpool's 08006); a new client logs in (rpool knows the pool's parameters)
        # and gets rpool's 08006 at its first query, when the server connection is refused; both well within
        # SLACK. The uncommitted row must not survive.
        r = outcome(lambda: inside.query("SELECT 1", timeout=SLACK))
        assert r[0] == "error" and r[1] in ("57P01", "08006"), r
        probe_t0 = time.monotonic()
        r = outcome(lambda: RawClient(rp, timeout=SLACK).connect().query("SELECT 1"))
        probe_seconds = time.monotonic() - probe_t0
        assert r[0] == "error" and r[1] == "08006", r
        assert probe_seconds < SLACK, probe_seconds
        down_seconds = time.monotonic() - t_stop
    finally:
        inside.close()
        pg.pg_ctl("start", "-w", "-l", pg.log)
        pg.running = True
    # (b) rpool notices by itself: no RECONNECT, no restart.
    recovery = wait_until_serving(rp, bench.run, RECOVERY_BOUND)
    rep = bench.finish()
    rows, committed, aborted = check_ledger(pg, bench, rep)
    assert int(pg.sql(f"SELECT count(*) FROM ledger WHERE run = {bench.run} AND client = -2", db="bench")[0][0]) == 0
    assert_no_idle_in_transaction(pg)
    after = after_load(pg, rp, workdir, benches)
    note(fault=f"postgres stop -m {mode}", down=down_seconds, probe_error_after=probe_seconds,
         recovery=recovery, rows=rows, committed=committed, aborted_clients=aborted, after_fault_committed=after,
         pgbench_saw=rep["errors"])


# ----------------------------------------------------------------------------------------------------------------
# Backends killed with pg_terminate_backend


def test_backends_terminated(ledger, make_rpool, workdir, benches):
    """pg_terminate_backend on the pooled database's backends, three rounds under a fresh pgbench each:
    every backend; only those idle in the pool; only those busy with a client. Each round checks the ledger."""
    pg = ledger
    rp = start_rpool(make_rpool, workers=2, pool_mode="transaction")
    inside = RawClient(rp).connect()
    inside.query("BEGIN")
    backend = int(inside.query("SELECT pg_backend_pid()")[0][0])
    inside.query("INSERT INTO ledger(run, client) VALUES (0, -2)")
    pg.sql(f"SELECT pg_terminate_backend({backend})")
    # (a) Postgres' own FATAL 57P01 reaches the client (rpool relays it before dropping the connection).
    r = outcome(lambda: inside.query("SELECT 1", timeout=SLACK))
    inside.close()
    assert r[0] == "error" and r[1] == "57P01", r
    assert int(pg.sql("SELECT count(*) FROM ledger WHERE run = 0", db="bench")[0][0]) == 0
    figures = []
    for which in ("", "AND state = 'idle'", "AND state <> 'idle'"):
        bench = Bench(rp, workdir, clients=6, duration=5)
        benches.append(bench)
        wait_rows(pg, bench.run, 20)
        killed = 0
        t0 = time.monotonic()
        while killed == 0:  # a round with nothing in the asked state is tried again
            rows = pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'bench' "
                          f"AND usename = 'app' AND pid <> pg_backend_pid() {which}")
            killed = sum(1 for r in rows if r[0] == "t")
            assert time.monotonic() - t0 < 10, f"no backend {which or 'at all'} to terminate in 10 s"
        recovery = wait_until_serving(rp, bench.run, RECOVERY_BOUND)
        rep = bench.finish()
        rows, committed, aborted = check_ledger(pg, bench, rep)
        figures.append(dict(which=which or "all", killed=killed, recovery=round(recovery, 2), rows=rows,
                            committed=committed, aborted=aborted, errors=rep["errors"]))
    assert_no_idle_in_transaction(pg)
    after = after_load(pg, rp, workdir, benches)
    note(fault="pg_terminate_backend x3", rounds=figures, after_fault_committed=after)


# ----------------------------------------------------------------------------------------------------------------
# A worker killed with SIGKILL


def test_worker_killed(ledger, make_rpool, workdir, benches):
    pg = ledger
    rp = start_rpool(make_rpool, workers=2, pool_mode="transaction")
    # One pgbench per worker, through each worker's own unix socket, so we know whose clients die.
    victim = Bench(rp, workdir, clients=3, duration=8, host=rp.worker_dir(0))
    survivor = Bench(rp, workdir, clients=3, duration=8, host=rp.worker_dir(1))
    benches.extend([victim, survivor])
    wait_rows(pg, victim.run, 20)
    wait_rows(pg, survivor.run, 20)
    # A client of the victim inside a transaction, holding a row that must roll back.
    inside = RawClient(rp, unix_dir=rp.worker_dir(0)).connect()
    inside.query("BEGIN")
    inside.query(f"INSERT INTO ledger(run, client) VALUES ({victim.run}, -2)")
    pid = {w["worker"]: w["pid"] for w in rp.admin("SHOW WORKERS")}[0]
    t_kill = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    # (a) No process is left to send a PostgreSQL error: the victim's clients see the connection close, at once.
    r = outcome(lambda: inside.query("SELECT 1", timeout=SLACK))
    inside.close()
    assert r[0] == "closed", r
    rep_v = victim.finish(within=SLACK)  # all its clients abort: pgbench ends long before -T
    victim_ended = time.monotonic() - t_kill
    assert len(rep_v["aborted"]) == victim.clients, rep_v["text"]
    # (c) The dead worker's backends see their sockets close; the one in a transaction rolls back and exits
    # (checked while the survivor's pgbench still runs: only backends idle in a transaction since the kill count).
    idle_tx_gone = assert_no_idle_in_transaction(pg, since=pg_clock(pg))
    # (b) The supervisor starts a new worker 0; its own socket serves again.
    recovery = wait_until_serving(rp, victim.run, RECOVERY_BOUND, unix_dir=rp.worker_dir(0))
    recovery_from_kill = time.monotonic() - t_kill
    rep_s = survivor.finish()
    # The other worker's clients saw nothing at all.
    assert not rep_s["aborted"] and rep_s["rc"] == 0, rep_s["text"]
    rows_v, committed_v, aborted_v = check_ledger(pg, victim, rep_v)
    rows_s, committed_s, _ = check_ledger(pg, survivor, rep_s)
    assert rows_s == committed_s
    assert int(pg.sql(f"SELECT count(*) FROM ledger WHERE run = {victim.run} AND client = -2",
                      db="bench")[0][0]) == 0
    assert_no_idle_in_transaction(pg)
    after = after_load(pg, rp, workdir, benches, host=rp.worker_dir(0))
    note(fault="SIGKILL worker 0", victim_pgbench_ended_after=victim_ended, idle_tx_gone_after=idle_tx_gone,
         recovery_after_kill=recovery_from_kill,
         victim_rows=rows_v, victim_committed=committed_v, victim_aborted=aborted_v, survivor_rows=rows_s,
         survivor_committed=committed_s, after_fault_committed=after, victim_pgbench_saw=rep_v["errors"])


# ----------------------------------------------------------------------------------------------------------------
# Slow consumers with large results


def test_slow_consumers(ledger, make_rpool, workdir, benches):
    """Three clients ask for ~200 MB each and stop reading while pgbench runs on the same small pool.

    With pool_size 4 and one worker, the three hold three of the four servers: pgbench's clients share one
    server until client_write_timeout (2 s) disconnects the slow ones and their servers are closed (they are
    mid-result, not clean). Expected: the slow clients' sockets end (EOF after what was buffered) within
    client_write_timeout + SLACK, no pgbench client errs (each waits less than query_wait_timeout), Postgres
    keeps no backend busy sending to a closed socket, and pgbench commits transactions after the cut."""
    pg = ledger
    rp = start_rpool(make_rpool, workers=1, pool_mode="transaction", settings={"default_pool_size": "4"})
    bench = Bench(rp, workdir, clients=4, duration=10)  # long enough to still run well after the cut
    benches.append(bench)
    wait_rows(pg, bench.run, 20)
    slow = []
    for _ in range(3):
        # Default socket buffers: with a tiny SO_RCVBUF the kernel would later hand over what rpool had already
        # queued only at its zero-window-probe pace (seconds per few kB on loopback), which says nothing about rpool.
        c = RawClient(rp).connect()
        s = c.sock
        q = b"SELECT repeat('x', 1000) FROM generate_series(1, 200000)\0"
        s.sendall(b"Q" + struct.pack("!I", len(q) + 4) + q)
        slow.append(c)
    t_stall = time.monotonic()
    write_timeout = float(TIMEOUTS["client_write_timeout"])
    # They read nothing for longer than client_write_timeout (any byte read would count as progress).
    time.sleep(write_timeout + 0.5)
    # (a) Then each slow socket has been closed by rpool: reading it ends in EOF after what was buffered,
    # within client_write_timeout + SLACK of the stall -- never a hang.
    bound = write_timeout + SLACK
    ends, received = [], []
    for c in slow:
        got = 0
        while True:
            left = t_stall + bound - time.monotonic()
            assert left > 0, f"a slow consumer was not disconnected within {bound} s"
            c.sock.settimeout(left)
            try:
                chunk = c.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            got += len(chunk)
        ends.append(time.monotonic() - t_stall)
        received.append(got)
        assert got < 200 * 1000 * 1000, "the whole result arrived: the client was not cut"
        c.close()
    cut_at = pg.sql("SELECT clock_timestamp()")[0][0]
    assert max(ends) < bound, ends
    assert "client stopped reading its results (client_write_timeout)" in rp.log_text()
    rep = bench.finish()
    rows, committed, aborted = check_ledger(pg, bench, rep)
    assert aborted == 0 and rows == committed, rep["text"]
    # pgbench kept committing after the slow clients were cut (the pool came back).
    late = int(pg.sql(f"SELECT count(*) FROM ledger WHERE run = {bench.run} AND at > '{cut_at}'",
                      db="bench")[0][0])
    assert late > 0, "pgbench committed nothing after the slow clients were cut"
    # (c) No backend is left sending the big result (or idle in a transaction).
    t0 = time.monotonic()
    while True:
        busy = int(pg.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'bench' "
                          "AND query LIKE 'SELECT repeat%' AND state = 'active'")[0][0])
        if busy == 0:
            break
        assert time.monotonic() - t0 < IDLE_TX_GRACE, f"{busy} backends still sending to a closed client"
        time.sleep(0.1)
    assert_no_idle_in_transaction(pg)
    note(fault="3 slow consumers", cut_after=max(ends), bytes_received=received, rows=rows, committed=committed,
         aborted_clients=aborted)


# ----------------------------------------------------------------------------------------------------------------
# Clients that disconnect inside a transaction


VANISH = ["idle", "mid-query", "unread-answer", "commit-sent"]


def _abandon(rp, run, how):
    """A client that opens a transaction, writes a row to `pending`, then vanishes in the way `how` says:
    idle in its transaction; during a query (pg_sleep(1)); with an answer it never reads; or right after
    sending COMMIT (that row may or may not be committed: the only case where either is right)."""
    c = RawClient(rp, timeout=QUERY_WAIT + SLACK).connect()
    c.query("BEGIN")
    c.query(f"INSERT INTO pending(run, how) VALUES ({run}, '{how}')")
    sql = {"mid-query": "SELECT pg_sleep(1)", "unread-answer": "SELECT 1", "commit-sent": "COMMIT"}.get(how)
    if sql:
        data = sql.encode() + b"\0"
        c.sock.sendall(b"Q" + struct.pack("!I", len(data) + 4) + data)
        if how == "mid-query":
            time.sleep(0.05)  # the query is running in Postgres
    # Abortive close (RST), as a killed process or a dropped network leaves it.
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_clients_vanish_inside_transactions(ledger, make_rpool, workdir, benches, mode):
    """32 clients vanish inside a transaction while pgbench runs on a pool of 3 servers.

    If rpool gave a server with an open transaction back to the pool, or kept one linked to a gone client,
    the pool (3 servers for 4 pgbench clients + the vanishing ones) would run dry within a few rounds and
    pgbench clients would hit query_wait_timeout (an abort). Expected: no pgbench abort, rows == committed,
    none of the abandoned rows committed, no backend idle in transaction."""
    pg = ledger
    rp = start_rpool(make_rpool, workers=1, pool_mode=mode, settings={"default_pool_size": "3"})
    bench = Bench(rp, workdir, clients=2, duration=8)
    benches.append(bench)
    wait_rows(pg, bench.run, 20)
    run = bench.run
    t0 = time.monotonic()
    for i in range(32):
        _abandon(rp, run, VANISH[i % len(VANISH)])
    abandon_seconds = time.monotonic() - t0
    # The last mid-query backend is in pg_sleep(1) for up to a second after its client vanished.
    grace = assert_no_idle_in_transaction(pg, grace=IDLE_TX_GRACE + 1.0, since=pg_clock(pg))
    rep = bench.finish()
    assert_no_idle_in_transaction(pg)
    rows, committed, aborted = check_ledger(pg, bench, rep)
    assert aborted == 0 and rows == committed, rep["text"]
    assert int(pg.sql(f"SELECT count(*) FROM pending WHERE run = {run} AND how <> 'commit-sent'",
                      db="bench")[0][0]) == 0
    recovery = wait_until_serving(rp, run, RECOVERY_BOUND)
    note(fault=f"32 clients vanish in transactions ({mode})", abandon_seconds=abandon_seconds,
         idle_tx_cleared_after=grace, recovery=recovery, rows=rows, committed=committed)


# ----------------------------------------------------------------------------------------------------------------
# A connection storm beyond max_client_conn


def test_connection_storm(ledger, make_rpool, workdir, benches):
    """200 clients at once against 2 workers with max_client_conn = 20 each, while 4 pgbench clients run.

    Expected (PgBouncer's behaviour): every storm client either logs in or gets FATAL 53300 "no more connections
    allowed (max_client_conn)"; at most 2 x 20 - 4 (pgbench) - 0 succeed at any time (each worker counts the
    clients it holds, including those still logging in); nobody waits longer than the storm bound; pgbench's
    clients, already connected, see nothing; once the storm leaves, new clients get in."""
    pg = ledger
    max_conn = 20
    rp = start_rpool(make_rpool, workers=2, pool_mode="transaction",
                     settings={"max_client_conn": str(max_conn), "listen_backlog": "512"})
    bench = Bench(rp, workdir, clients=4, duration=8)
    benches.append(bench)
    wait_rows(pg, bench.run, 20)
    results, held = [], []
    lock = threading.Lock()
    go = threading.Event()

    def storm_client():
        c = RawClient(rp, timeout=15.0)
        go.wait(10)
        r = outcome(lambda: c.connect() and c.query("SELECT 1"))
        with lock:
            results.append(r)
            if r[0] == "ok":
                held.append(c)
            else:
                c.close()

    threads = [threading.Thread(target=storm_client) for _ in range(200)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    go.set()
    for t in threads:
        t.join(30)
    storm_seconds = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads), "storm clients still waiting after 30 s"
    kinds = Counter(r[0] if r[0] != "error" else f"error {r[1]}" for r in results)
    try:
        assert len(results) == 200
        assert set(kinds) <= {"ok", "error 53300"}, kinds
        assert kinds["ok"] <= 2 * max_conn - bench.clients, kinds
        assert kinds["error 53300"] > 0, kinds
        admitted = kinds["ok"]
    finally:
        for c in held:
            c.close()
    rep = bench.finish()
    rows, committed, aborted = check_ledger(pg, bench, rep)
    assert aborted == 0 and rows == committed, rep["text"]
    # Closed storm clients leave; a new one gets in within the bound.
    recovery = wait_until_serving(rp, bench.run, RECOVERY_BOUND)
    assert_no_idle_in_transaction(pg)
    note(fault="storm of 200 clients, max_client_conn 2x20", storm_seconds=storm_seconds, admitted=admitted,
         refused_53300=kinds["error 53300"], recovery=recovery, rows=rows, committed=committed)


def test_silent_connection_storm(ledger, make_rpool, workdir, benches):
    """30 connections that never send a startup packet fill one worker past max_client_conn = 20.

    Expected: meanwhile a real client gets FATAL 53300 at once; each silent connection is closed with FATAL
    08P01 "client_login_timeout" within client_login_timeout (5 s) + SLACK of its connect; then real clients get
    in again without anyone's help, and pgbench's two clients (connected before) never notice."""
    pg = ledger
    rp = start_rpool(make_rpool, workers=1, pool_mode="transaction", settings={"max_client_conn": "20"})
    bench = Bench(rp, workdir, clients=2, duration=8)
    benches.append(bench)
    wait_rows(pg, bench.run, 20)
    t0 = time.monotonic()
    silent = [socket.create_connection(("127.0.0.1", rp.port), timeout=10) for _ in range(30)]
    try:
        r = outcome(lambda: RawClient(rp, timeout=SLACK).connect())
        assert r[0] == "error" and r[1] == "53300", r
        bound = float(TIMEOUTS["client_login_timeout"]) + SLACK
        seen = Counter()
        for s in silent:
            c = RawClient(rp)
            c.sock = s
            r = outcome(lambda: c._message(t0 + bound))
            seen[r[0] if r[0] != "error" else f"error {r[1]}"] += 1
        closed_after = time.monotonic() - t0
        assert seen == Counter({"error 08P01": 30}), seen
    finally:
        for s in silent:
            s.close()
    recovery = wait_until_serving(rp, bench.run, RECOVERY_BOUND)
    rep = bench.finish()
    rows, committed, aborted = check_ledger(pg, bench, rep)
    assert aborted == 0 and rows == committed, rep["text"]
    assert_no_idle_in_transaction(pg)
    note(fault="30 silent connections past max_client_conn 20", silent_closed_after=closed_after,
         recovery=recovery, rows=rows, committed=committed)


# ----------------------------------------------------------------------------------------------------------------
# The file-descriptor limit reached


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_fd_limit_reached(ledger, make_rpool, workdir, benches):
    """The worker's RLIMIT_NOFILE is lowered (prlimit --pid) to 8 above what it holds, then 40 clients come.

    Expected: each of the 40 logs in or gets a PostgreSQL error (53300: no more connections; or 08006 when a
    server connection cannot be opened) within query_wait_timeout + SLACK -- none waits unanswered in the
    listen queue (PgBouncer pauses accepting there; rpool answers with its spare descriptor); the
    worker does not spin on a listener it cannot accept from (it uses under a third of a core meanwhile);
    pgbench's clients (connected, with servers) carry on; when the limit is raised again, new clients get in
    without a restart."""
    pg = ledger
    rp = start_rpool(make_rpool, workers=1, pool_mode="transaction", settings={"default_pool_size": "4"})
    # Rate-limited (-R), so that relaying pgbench costs the worker little CPU and a spin would stand out. On a
    # quiet machine a spinning worker takes a whole core; under heavy foreign load it may get much less, so the
    # CPU check is a weak detector there -- the unanswered clients (and the log flood) are the strong ones.
    bench = Bench(rp, workdir, clients=2, duration=8, extra=["-R", "300"])
    benches.append(bench)
    wait_rows(pg, bench.run, 20)
    worker = rp.worker_pids()[0]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = open_fds(worker) + 8
    subprocess.run(["prlimit", f"--pid={worker}", f"--nofile={limit}:{hard}"], check=True)
    results, held = [], []
    try:
        cpu0, t0 = cpu_seconds(worker), time.monotonic()
        lock = threading.Lock()

        def client():
            c = RawClient(rp, timeout=10.0)
            r = outcome(lambda: c.connect() and c.query("SELECT 1"))
            with lock:
                results.append((r, time.monotonic() - t0))
                (held if r[0] == "ok" else []).append(c)
                if r[0] != "ok":
                    c.close()

        threads = [threading.Thread(target=client) for _ in range(40)]
        for t in threads:  # spread over 2 s: a worker that spins on its listener would show it in its CPU time
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join(20)
        cpu_used = cpu_seconds(worker) - cpu0
        overload_seconds = time.monotonic() - t0
        assert not any(t.is_alive() for t in threads)
        kinds = Counter(r[0] if r[0] != "error" else f"error {r[1]}" for r, _ in results)
        assert set(kinds) <= {"ok", "error 53300", "error 08006"}, (kinds, results)
        assert kinds["error 53300"] > 0, kinds  # the limit was really reached
        slowest = max(s for _, s in results)
        assert slowest < QUERY_WAIT + SLACK, results
        assert cpu_used < max(overload_seconds, 1.0) / 3, (cpu_used, overload_seconds)
        # A libpq client (psql) gets the same error as text while the limit holds (the refused connection's
        # startup packet is read before the close, so the error is not overtaken by a reset).
        r = subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(rp.port), "-U", "app", "-d", "bench",
                            "-c", "SELECT 1"], capture_output=True, text=True, timeout=QUERY_WAIT + SLACK,
                           env=dict(os.environ, PGPASSWORD=PASSWORDS["app"], PGCONNECT_TIMEOUT="10"))
        assert r.returncode != 0 and "no more connections allowed (too many open files)" in r.stderr, r
        # The refusals are reported, at most about one log line a second, not one per wake-up.
        lines = rp.log_text().count("accept4() failed")
        assert 1 <= lines <= overload_seconds + 2, rp.log_text()
    finally:
        for c in held:
            c.close()
        subprocess.run(["prlimit", f"--pid={worker}", f"--nofile={soft}:{hard}"], check=False)
    recovery = wait_until_serving(rp, bench.run, RECOVERY_BOUND)
    rep = bench.finish()
    rows, committed, aborted = check_ledger(pg, bench, rep)
    assert aborted == 0 and rows == committed, rep["text"]
    assert rp.worker_pids() == [worker], "the worker was replaced: recovery was not by itself"
    assert_no_idle_in_transaction(pg)
    note(fault="RLIMIT_NOFILE reached", results=dict(kinds), slowest_answer=slowest, worker_cpu=cpu_used,
         overload=overload_seconds,
         recovery=recovery, rows=rows, committed=committed)
