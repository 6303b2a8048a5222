"""Protocol pass-through: session parameters per client, COPY, extended protocol, notices, errors, big results."""
import io
import re
import socket
import struct

import psycopg2
import pytest

from pgfixture import pgbench


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_each_client_keeps_its_parameters_on_a_shared_server(make_rpool):
    # One server for two clients: rpool must SET each client's values whenever it switches.
    rp = make_rpool(workers=1, settings={"default_pool_size": "1"})
    a = rp.connect(application_name="alpha", options="")
    b = rp.connect(application_name="beta")
    with a.cursor() as cur:
        cur.execute("SET DateStyle = 'German'")
    for _ in range(3):
        assert one(a, "SHOW application_name") == "alpha"
        assert one(b, "SHOW application_name") == "beta"
        assert one(a, "SHOW DateStyle").startswith("German")
        assert one(b, "SHOW DateStyle").startswith("ISO")
    assert one(a, "SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE usename = 'app'") >= 1
    clients = {c["application_name"] for c in rp.admin("SHOW CLIENTS")}
    assert {"alpha", "beta"} <= clients


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_copy_in_and_out(make_rpool, mode):
    rp = make_rpool(workers=2, pool_mode=mode)
    c = rp.connect()
    c.autocommit = False
    with c.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (a int, b text)")
        data = "".join(f"{i}\trow {i}\n" for i in range(20000))
        cur.copy_expert("COPY t FROM STDIN", io.StringIO(data))
        cur.execute("SELECT count(*), sum(a) FROM t")
        assert cur.fetchone() == (20000, sum(range(20000)))
        out = io.StringIO()
        cur.copy_expert("COPY t TO STDOUT", out)
        assert out.getvalue() == data
    c.rollback()
    c.close()


def test_copy_in_gives_the_server_back_in_transaction_mode(make_rpool):
    # Transaction pooling returns the server at the ReadyForQuery 'I' that ends a transaction (PgBouncer's
    # pool_mode docs); COPY FROM STDIN ends with the client's CopyDone, not with a Sync. Expected: a second client
    # of a one-server pool is served while the first stays connected and idle after its COPY. rpool kept the
    # server linked until the first client's next query (found while writing fuzz/fuzz_session.cpp); the second
    # client then waited for query_wait_timeout and got an error.
    rp = make_rpool(workers=1, pool_mode="transaction",
                    settings={"default_pool_size": "1", "query_wait_timeout": "3"})
    a = rp.connect()
    a.autocommit = True
    with a.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS copy_release (a int)")
        cur.execute("TRUNCATE copy_release")
        cur.copy_expert("COPY copy_release FROM STDIN", io.StringIO("1\n2\n"))
    b = rp.connect()
    b.autocommit = True
    assert one(b, "SELECT count(*) FROM copy_release") == 2
    a.close()
    b.close()


def _message(kind, body):
    return kind + struct.pack("!I", len(body) + 4) + body


def _read_until(sock, kind):
    """The message types read up to and including the first message of type `kind`."""
    buf, kinds = b"", []
    while True:
        data = sock.recv(65536)
        assert data, f"connection closed before {kind!r}; got {kinds}"
        buf += data
        while len(buf) >= 5 and len(buf) >= 1 + struct.unpack("!I", buf[1:5])[0]:
            n = struct.unpack("!I", buf[1:5])[0]
            kinds.append(buf[:1])
            buf = buf[1 + n:]
            if kinds[-1] == kind:
                return kinds


def test_extended_protocol_copy_in_gives_the_server_back(make_rpool):
    # libpq's extended-protocol COPY FROM STDIN: Parse/Bind/Execute/Sync, then CopyData/CopyDone/Sync. Postgres
    # ignores the Sync it reads in copy-in mode and sends one ReadyForQuery for the two (checked against
    # Postgres 15). Expected, as for any transaction in transaction mode: the server goes back to the pool at
    # that ReadyForQuery 'I', so a second client of a one-server pool is served while the first stays idle.
    # rpool counted two owed ReadyForQuery messages and kept the server until query_wait_timeout failed the
    # second client.
    rp = make_rpool(workers=1, pool_mode="transaction", auth_type="trust",
                    settings={"default_pool_size": "1", "query_wait_timeout": "3"})
    setup = rp.connect(user="trustuser")
    with setup.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS copy_extended (a int)")
        cur.execute("TRUNCATE copy_extended")
    setup.close()
    cstr = lambda s: s.encode() + b"\0"  # noqa: E731
    a = socket.create_connection(("127.0.0.1", rp.port), timeout=10)
    try:
        body = struct.pack("!I", 196608) + cstr("user") + cstr("trustuser") + cstr("database") + cstr("postgres") + b"\0"
        a.sendall(struct.pack("!I", len(body) + 4) + body)
        _read_until(a, b"Z")
        a.sendall(_message(b"P", cstr("") + cstr("COPY copy_extended FROM STDIN") + struct.pack("!H", 0)) +
                  _message(b"B", cstr("") + cstr("") + struct.pack("!HHH", 0, 0, 0)) +
                  _message(b"E", cstr("") + struct.pack("!I", 0)) + _message(b"S", b""))
        assert _read_until(a, b"G") == [b"1", b"2", b"G"]
        a.sendall(_message(b"d", b"7\n") + _message(b"c", b"") + _message(b"S", b""))
        assert _read_until(a, b"Z") == [b"C", b"Z"]
        b = rp.connect(user="trustuser")
        assert one(b, "SELECT sum(a) FROM copy_extended") == 7
        b.close()
    finally:
        a.close()


def test_notices_errors_and_big_results(make_rpool):
    rp = make_rpool(workers=1)
    c = rp.connect()
    with c.cursor() as cur:
        cur.execute("DO $$ BEGIN RAISE NOTICE 'hello from postgres'; END $$")
    assert any("hello from postgres" in n for n in c.notices)
    with pytest.raises(psycopg2.errors.DivisionByZero):
        one(c, "SELECT 1/0")
    assert one(c, "SELECT 2") == 2  # the server is usable after an error
    big = one(c, "SELECT repeat('x', 20 * 1024 * 1024)")
    assert len(big) == 20 * 1024 * 1024
    c.autocommit = False
    with pytest.raises(psycopg2.errors.UndefinedTable):
        one(c, "SELECT * FROM no_such_table")
    c.rollback()
    assert one(c, "SELECT 3") == 3
    c.close()


@pytest.mark.parametrize("mode,protocol", [("transaction", "extended"), ("session", "prepared")])
def test_pgbench_extended_protocol(pg, make_rpool, mode, protocol):
    import subprocess
    subprocess.run(["pgbench", "-i", "-q", "-s", "1", "-h", pg.sock, "-p", str(pg.port), "-U", "postgres",
                    "bench"], check=True, capture_output=True)
    rp = make_rpool(workers=2, pool_mode=mode)
    rc, out = pgbench(rp, ["-M", protocol, "-T", "2", "-c", "8", "-j", "2"])
    assert rc == 0, out
    assert re.search(r"number of failed transactions: 0 ", out), out


def test_pipelined_extended_queries_raw(make_rpool):
    """Parse/Bind/Execute for two statements then one Sync, sent in one write, through transaction pooling."""
    import socket
    import struct
    from test_robustness import trust_login

    def msg(t, body):
        return t + struct.pack("!I", len(body) + 4) + body

    rp = make_rpool(workers=1, auth_type="trust", settings={"default_pool_size": "1"})
    s = trust_login(rp)
    batch = b""
    for v in (7, 8):
        batch += msg(b"P", b"\0" + f"SELECT {v}".encode() + b"\0\0\0")
        batch += msg(b"B", b"\0\0" + b"\0\0" + b"\0\0" + b"\0\0")
        batch += msg(b"E", b"\0" + b"\0\0\0\0")
    batch += msg(b"S", b"")
    s.sendall(batch)
    got = b""
    while not got.endswith(b"Z\0\0\0\x05I"):
        chunk = s.recv(65536)
        assert chunk
        got += chunk
    assert got.count(b"C\0\0\0\rSELECT 1\0") == 2
    assert b"\x00\x00\x00\x017" in got and b"\x00\x00\x00\x018" in got
    s.close()


def test_session_mode_resets_the_server_between_clients(make_rpool):
    rp = make_rpool(workers=1, pool_mode="session", settings={"default_pool_size": "1"})
    a = rp.connect(application_name="first")
    with a.cursor() as cur:
        cur.execute("SET myapp.flag = 'on'")
        cur.execute("PREPARE p AS SELECT 1")
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    a.close()
    b = rp.connect()
    with b.cursor() as cur:
        cur.execute("SELECT pg_backend_pid(), current_setting('myapp.flag', true), "
                    "(SELECT count(*) FROM pg_prepared_statements), current_setting('application_name')")
        row = cur.fetchone()
    assert row[0] == pid  # the same server, reused
    assert row[1] in ("", None)  # DISCARD ALL (server_reset_query) cleared the first client's session
    assert row[2] == 0
    assert row[3] == ""
    b.close()
