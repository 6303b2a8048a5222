"""Malformed input, vanished clients, dead workers and a restarted Postgres leave rpool serving."""
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import psycopg2
import pytest

from pgfixture import sleep_in_thread


def check_serving(rp):
    c = rp.connect()
    with c.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone()[0] == 1
    c.close()


def startup_packet(user="app", db="postgres"):
    body = struct.pack("!I", 196608) + f"user\0{user}\0database\0{db}\0\0".encode()
    return struct.pack("!I", len(body) + 4) + body


def raw_session(rp, payload, read=True):
    """Sends bytes on a fresh connection; returns what came back before the server closed it (or 1 s)."""
    s = socket.create_connection(("127.0.0.1", rp.port))
    s.settimeout(1.0)
    s.sendall(payload)
    got = b""
    if read:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
    s.close()
    return got


def trust_login(rp):
    """A raw connection logged in with trust auth (user trustuser); returns the socket after ReadyForQuery."""
    s = socket.create_connection(("127.0.0.1", rp.port))
    s.settimeout(5.0)
    s.sendall(startup_packet(user="trustuser"))
    buf = b""
    while b"Z\x00\x00\x00\x05I" not in buf:
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
    return s


MALFORMED = {
    "startup length over 1 GB": struct.pack("!II", (1 << 30) + 1, 196608),
    "startup length under 4": struct.pack("!I", 3) + b"xxxx",
    "unknown startup code": struct.pack("!II", 8, 1234 << 16),
    "garbage before startup": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "startup without terminator": struct.pack("!II", 16, 196608) + b"user\0app",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_startup_leaves_worker_serving(make_rpool, name):
    rp = make_rpool(workers=1)
    pids = rp.worker_pids()
    raw_session(rp, MALFORMED[name])
    check_serving(rp)
    assert rp.worker_pids() == pids, "the worker must not have crashed"


@pytest.mark.parametrize("length", [3, (1 << 30) + 5])
def test_bad_message_length_after_login(make_rpool, length):
    rp = make_rpool(workers=1, auth_type="trust")
    pids = rp.worker_pids()
    s = trust_login(rp)
    s.sendall(b"Q" + struct.pack("!I", length) + b"SELECT 1\0")
    s.settimeout(2)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pytest.fail("connection with a bad length was not closed")
    assert b"invalid message length" in data
    check_serving(rp)
    assert rp.worker_pids() == pids


def test_client_that_stops_reading(make_rpool):
    rp = make_rpool(workers=1, auth_type="trust", settings={"client_write_timeout": "1"})
    pids = rp.worker_pids()
    s = trust_login(rp)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    q = b"SELECT repeat('x', 1000000)\0"
    msg = b"Q" + struct.pack("!I", len(q) + 4) + q
    s.settimeout(0.2)
    try:
        for _ in range(200):  # about 200 MB of results requested; never read
            s.sendall(msg)
    except (socket.timeout, BlockingIOError):
        pass  # backpressure reached the sender: rpool stopped reading this client
    t0 = time.time()
    check_serving(rp)  # other clients see nothing
    assert time.time() - t0 < 2.0
    deadline = time.time() + 4
    while time.time() < deadline and "client stopped reading" not in rp.log_text():
        time.sleep(0.1)
    assert "client stopped reading its results (client_write_timeout)" in rp.log_text()
    check_serving(rp)
    assert rp.worker_pids() == pids
    s.close()


def idle_in_transaction(pg):
    rows = pg.sql("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'")
    return int(rows[0][0])


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_client_killed_mid_transaction(pg, make_rpool, mode):
    rp = make_rpool(workers=2, pool_mode=mode)
    code = (
        "import psycopg2, sys, time\n"
        f"c = psycopg2.connect({rp.dsn()!r})\n"
        "cur = c.cursor()\n"
        "cur.execute('CREATE TEMP TABLE IF NOT EXISTS t(x int)' if False else 'SELECT 1')\n"
        "cur.execute('SELECT txid_current()')\n"
        "print('in-transaction', flush=True)\n"
        "time.sleep(60)\n"
    )
    procs = []
    for _ in range(4):
        p = subprocess.Popen(["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, text=True)
        procs.append(p)
    for p in procs:
        assert p.stdout.readline().strip() == "in-transaction"
    assert idle_in_transaction(pg) >= 4
    for p in procs:
        p.kill()
        p.wait()
    deadline = time.time() + 3
    while time.time() < deadline and idle_in_transaction(pg) > 0:
        time.sleep(0.1)
    assert idle_in_transaction(pg) == 0
    check_serving(rp)


def test_kill_9_worker_is_replaced(make_rpool):
    rp = make_rpool(workers=2)
    before = {w["worker"]: w["pid"] for w in rp.admin("SHOW WORKERS")}
    # Each worker's own unix socket puts clients on a chosen worker.
    victims = [rp.connect_worker(0) for _ in range(3)]
    survivors = [rp.connect_worker(1) for _ in range(3)]
    for c in victims + survivors:
        with c.cursor() as cur:
            cur.execute("SELECT 1")
    os.kill(before[0], signal.SIGKILL)
    time.sleep(0.2)
    for c in survivors:  # clients of the other worker see nothing
        with c.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchone()[0] == 2
    for c in victims:  # clients of the killed worker lost their connection
        with pytest.raises(psycopg2.Error):
            with c.cursor() as cur:
                cur.execute("SELECT 3")
    deadline = time.time() + 5
    after = {}
    while time.time() < deadline:
        after = {w["worker"]: w["pid"] for w in rp.admin("SHOW WORKERS")}
        if after.get(0) not in (None, 0, before[0]):
            break
        time.sleep(0.2)
    assert after.get(0) not in (None, 0, before[0]), after
    assert after[1] == before[1]
    assert "killed by signal 9" in rp.log_text()
    c = rp.connect_worker(0)  # the replacement serves, on TCP and on its own socket
    with c.cursor() as cur:
        cur.execute("SELECT 4")
    c.close()
    for _ in range(6):
        check_serving(rp)
    for c in survivors:
        c.close()


def test_postgres_restart_under_load(pg, make_rpool):
    rp = make_rpool(workers=2)
    stop = threading.Event()
    errors = []
    done = [0]

    def load():
        while not stop.is_set():
            try:
                c = rp.connect()
                with c.cursor() as cur:
                    while not stop.is_set():
                        cur.execute("SELECT 1")
                        done[0] += 1
            except psycopg2.Error as e:
                errors.append(str(e))
                time.sleep(0.05)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    pg.restart("immediate")
    up = time.time()
    served = None
    while time.time() - up < 5:
        try:
            check_serving(rp)
            served = time.time() - up
            break
        except psycopg2.Error:
            time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(5)
    assert errors, "clients should have seen errors while Postgres restarted"
    assert served is not None and served < 2.0, served


def test_cancel_works_from_any_worker(make_rpool):
    rp = make_rpool(workers=2)
    cancelled = 0
    for attempt in range(8):
        c = rp.connect()
        t0 = time.time()
        t, result = sleep_in_thread(c)
        time.sleep(0.3)
        c.cancel()  # a new connection: the kernel picks its worker
        t.join(5)
        assert "cancelled" in result, result
        assert time.time() - t0 < 3
        cancelled += 1
        c.close()
        if "forwarded to worker" in rp.log_text() and attempt >= 1:
            break
    assert "cancel request forwarded to worker" in rp.log_text(), "no cancel landed on the other worker"
