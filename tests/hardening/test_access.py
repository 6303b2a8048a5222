"""Access control of rpool (issue 7, "Access"), against a real Postgres 15 through tests/pooler/pgfixture.py.

Only clients that pass authentication reach a server; the admin console only for admin_users, SHOW-only for
stats_users; auth_file reloaded on SIGHUP and refused when others can read it; passwords never logged; SCRAM and
MD5 checked with psql and psycopg2, right and wrong passwords."""
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import psycopg2
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pooler"))
from pgfixture import USERS, rpool_binary  # noqa: E402
from conftest import make_rpool, pg  # noqa: E402,F401  (pytest fixtures, used by name)

PASSWORDS = dict((name, password) for name, password, _ in USERS)
WRONG = "Wr0ng-pa55word-7c1e"


def server_connections(pg, user):
    rows = pg.sql(f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{user}' AND client_addr IS NOT NULL")
    return int(rows[0][0])


def login_fails(rp, db, user, password):
    with pytest.raises(psycopg2.OperationalError) as e:
        psycopg2.connect(rp.dsn(db, user, password), connect_timeout=10).close()
    return str(e.value)


@pytest.mark.parametrize("auth_type", ["md5", "scram-sha-256"])
def test_failed_logins_never_reach_a_server(make_rpool, pg, auth_type):
    rp = make_rpool(workers=1, auth_type=auth_type)
    before = server_connections(pg, "app")
    assert "password authentication failed" in login_fails(rp, "postgres", "app", WRONG)
    assert "password authentication failed" in login_fails(rp, "postgres", "nobody", WRONG)
    login_fails(rp, "postgres", "app", "")  # libpq gives up: no password to send
    assert server_connections(pg, "app") == before, "a failed login opened a server connection"
    c = rp.connect("postgres", "app")
    with c.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == "app"
    c.close()


@pytest.mark.parametrize("auth_type", ["md5", "scram-sha-256"])
def test_psql_right_and_wrong_password(make_rpool, auth_type):
    rp = make_rpool(workers=1, auth_type=auth_type)
    for user in ("app", "md5user"):
        for password, ok in ((PASSWORDS[user], True), (WRONG, False)):
            r = subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(rp.port), "-U", user,
                                "-d", "postgres", "-c", "SELECT 42"], capture_output=True, text=True, timeout=20,
                               env=dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="10"))
            if ok:
                assert r.returncode == 0 and r.stdout.strip() == "42", (user, r.stderr)
            else:
                assert r.returncode != 0 and "password authentication failed" in r.stderr, (user, r.stderr)


def test_admin_console_for_admin_users_and_show_only_for_stats_users(make_rpool):
    rp = make_rpool(workers=2)
    # A user with a valid password who is neither admin nor stats user is turned away.
    assert "not allowed" in login_fails(rp, "pgbouncer", "app", PASSWORDS["app"])
    assert "not allowed" in login_fails(rp, "rpool", "md5user", PASSWORDS["md5user"])
    # A stats user may look and may not act; rpool must still be running afterwards.
    c = psycopg2.connect(rp.dsn("pgbouncer", "stats", "stats-secret"))
    c.autocommit = True
    with c.cursor() as cur:
        for show in ("SHOW WORKERS", "SHOW POOLS", "SHOW STATS", "SHOW CLIENTS", "SHOW CONFIG"):
            cur.execute(show)
            cur.fetchall()
        # PAUSE is left out: it hangs for a stats user (test_stats_user_pause_is_refused below).
        for command in ("RESUME", "RECONNECT", "KILL postgres", "RELOAD", "SHUTDOWN"):
            with pytest.raises(psycopg2.Error):
                cur.execute(command)
    c.close()
    time.sleep(0.3)
    assert rp.procs[0].poll() is None, "a stats user's command stopped rpool"
    # Nothing was paused or killed: a client still gets through.
    app = rp.connect("postgres", "app")
    with app.cursor() as cur:
        cur.execute("SELECT 1")
    app.close()
    # The admin may act.
    assert rp.admin("PAUSE postgres") == []
    assert rp.admin("RESUME") == []
    # Wrong admin password: refused like any other login.
    assert "password authentication failed" in login_fails(rp, "pgbouncer", "admin", WRONG)


# A stats user's PAUSE is refused at once (it used to wait for a pause nobody had started, for ever), and the
# pooled database keeps serving: nothing was paused.
def test_stats_user_pause_is_refused(make_rpool):
    rp = make_rpool(workers=2)
    r = subprocess.run(["psql", "-X", rp.dsn("pgbouncer", "stats", "stats-secret"), "-c", "PAUSE"],
                       capture_output=True, text=True, timeout=5)
    assert r.returncode != 0 and "admin access needed" in r.stderr
    c = psycopg2.connect(rp.dsn("postgres", "app", PASSWORDS["app"]), connect_timeout=5)
    with c.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone()[0] == 1
    c.close()


def test_passwords_never_logged(make_rpool):
    rp = make_rpool(workers=1, auth_type="md5", settings={"verbose": "2"})
    for user in ("app", "md5user", "admin"):
        password = PASSWORDS.get(user, "admin-secret")
        db = "pgbouncer" if user == "admin" else "postgres"
        psycopg2.connect(rp.dsn(db, user, password)).close()
        login_fails(rp, db, user, WRONG)
    # A password sent in the startup packet (in options, which rpool refuses) must not be echoed either.
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(rp.dsn("postgres", "app", options="-cpassword=" + WRONG)).close()
    rp.stop()
    log = rp.log_text()
    assert "login failed" in log  # the log is there and has the failures
    for secret in ("app-secret", "md5-secret", "admin-secret", "stats-secret", WRONG):
        assert secret not in log, f"{secret!r} appears in rpool's log"


def test_auth_file_reloaded_on_sighup(make_rpool):
    rp = make_rpool(workers=2)
    assert "password authentication failed" in login_fails(rp, "forced", "newcomer", "newcomer-pw")
    with open(rp.userlist, "a") as f:
        f.write('"newcomer" "newcomer-pw"\n')
    os.kill(rp.pid, signal.SIGHUP)
    deadline = time.time() + 10
    while True:
        try:
            c = psycopg2.connect(rp.dsn("forced", "newcomer", "newcomer-pw"), connect_timeout=5)
            break
        except psycopg2.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    with c.cursor() as cur:
        cur.execute("SELECT current_user")  # the forced server user
        assert cur.fetchone()[0] == "app"
    c.close()


# The auth_file holds passwords (or their hashes): like Postgres with its key file, rpool will not use one that
# others can read or write: not at start (exit 2, one line naming the file), not at a reload (the old one stays).
@pytest.mark.parametrize("mode", [0o644, 0o602])
def test_auth_file_readable_by_others_is_refused(make_rpool, mode):
    rp = make_rpool(start=False, workers=1)
    os.chmod(rp.userlist, mode)
    proc = subprocess.Popen([rp.binary or rpool_binary(), rp.ini], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("rpool started with an auth_file readable by others")
    assert proc.returncode == 2
    err = proc.stderr.read()
    assert err.count("\n") == 1 and rp.userlist in err and "by others" in err, err


def test_auth_file_readable_by_others_is_refused_at_reload(make_rpool):
    rp = make_rpool(workers=2)
    with open(rp.userlist, "a") as f:
        f.write('"newcomer" "newcomer-pw"\n')
    os.chmod(rp.userlist, 0o644)
    os.kill(rp.pid, signal.SIGHUP)
    deadline = time.time() + 10
    while "by others" not in rp.log_text():
        assert time.time() < deadline, "no log line refusing the reload"
        time.sleep(0.1)
    # The running workers kept the old users: the newcomer is unknown, app still logs in.
    assert "password authentication failed" in login_fails(rp, "forced", "newcomer", "newcomer-pw")
    psycopg2.connect(rp.dsn("postgres", "app", PASSWORDS["app"]), connect_timeout=5).close()


def startup_packet(params):
    body = struct.pack("!I", 196608) + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


# Found by the protocol fuzzer: bytes that came in the same read as the startup packet waited for a read event
# that never came, on the admin console (pooled logins already drained them). Both paths must answer.
@pytest.mark.parametrize("user,database,sql", [("stats", "pgbouncer", b"SHOW VERSION"),
                                               ("app", "postgres", b"SELECT 1")])
def test_query_pipelined_with_the_startup_packet_is_answered(make_rpool, user, database, sql):
    rp = make_rpool(workers=1, auth_type="trust")  # trust, but auth_file knows the users and the server passwords
    query = sql + b"\0"
    with socket.create_connection(("127.0.0.1", rp.port), timeout=5) as s:
        s.sendall(startup_packet([("user", user), ("database", database)]) +
                  b"Q" + struct.pack("!I", len(query) + 4) + query)
        data = b""
        ready = b"Z\x00\x00\x00\x05"
        try:
            while data.count(ready) < 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
    assert data.count(ready) == 2, ("the query sent with the startup packet got no answer", data[:400])
