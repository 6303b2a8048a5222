"""Logins and limits give PostgreSQL's (and PgBouncer's) errors."""
import subprocess
import threading
import time

import psycopg2
import pytest


def login_error(rp, **kw):
    with pytest.raises(psycopg2.OperationalError) as e:
        rp.connect(**kw)
    return str(e.value)


@pytest.mark.parametrize("auth_type", ["md5", "scram-sha-256"])
def test_wrong_password_and_unknown_user(make_rpool, auth_type):
    rp = make_rpool(workers=2, auth_type=auth_type)
    assert 'password authentication failed for user "app"' in login_error(rp, user="app", password="wrong")
    assert 'password authentication failed for user "nobody"' in login_error(rp, user="nobody", password="x")
    c = rp.connect(user="app")
    with c.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == "app"
    c.close()


def test_server_login_with_md5_and_scram_and_forced_user(make_rpool):
    rp = make_rpool(workers=1)
    for user in ("app", "md5user"):  # Postgres checks app with SCRAM, md5user with MD5
        c = rp.connect(user=user)
        with c.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone()[0] == user
        c.close()
    c = rp.connect(db="forced", user="md5user")
    with c.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == "app"
    c.close()


def test_unknown_database(make_rpool):
    rp = make_rpool(workers=2)
    assert "no such database: nosuchdb" in login_error(rp, db="nosuchdb")


def test_admin_console_needs_admin_or_stats_user(make_rpool):
    rp = make_rpool(workers=2)
    assert "not allowed" in login_error(rp, db="pgbouncer", user="app")


def test_max_client_conn(make_rpool):
    rp = make_rpool(workers=1, settings={"max_client_conn": "3"})
    conns = [rp.connect() for _ in range(3)]
    msg = login_error(rp)
    assert "no more connections allowed (max_client_conn)" in msg
    for c in conns:
        c.close()
    time.sleep(0.2)
    rp.connect().close()  # a freed slot is usable again


def test_query_wait_timeout(make_rpool):
    rp = make_rpool(workers=1, settings={"default_pool_size": "1", "query_wait_timeout": "1"})
    holder = rp.connect()
    holder.autocommit = False
    with holder.cursor() as cur:
        cur.execute("SELECT 1")  # opens a transaction: the only server stays linked
    # psql prints the FATAL message; psycopg2 reports only the lost connection after it.
    t0 = time.time()
    r = subprocess.run(["psql", "-X", rp.dsn(), "-c", "SELECT 1"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "FATAL:  query_wait_timeout" in r.stderr, r.stderr
    assert 0.8 < time.time() - t0 < 3.0
    holder.rollback()
    holder.close()


def test_statement_mode_refuses_transactions(make_rpool):
    rp = make_rpool(workers=1, pool_mode="statement")
    c = rp.connect()
    with c.cursor() as cur:
        cur.execute("SELECT 41 + 1")
        assert cur.fetchone()[0] == 42
    c.close()
    r = subprocess.run(["psql", "-X", rp.dsn(), "-c", "BEGIN", "-c", "SELECT 1"], capture_output=True, text=True,
                       timeout=10)
    assert "transaction blocks not allowed in statement pooling mode" in r.stderr, r.stderr


def test_reserve_pool(make_rpool):
    rp = make_rpool(workers=1, settings={"default_pool_size": "1", "reserve_pool_size": "1",
                                         "reserve_pool_timeout": "0.5", "query_wait_timeout": "5"})
    holder = rp.connect()
    holder.autocommit = False
    with holder.cursor() as cur:
        cur.execute("SELECT 1")  # holds the only regular server
    other = rp.connect()
    t0 = time.time()
    with other.cursor() as cur:
        cur.execute("SELECT 2")  # served by the reserve after reserve_pool_timeout
        assert cur.fetchone()[0] == 2
    waited = time.time() - t0
    assert 0.4 < waited < 2.0, waited
    assert "using the reserve pool" in rp.log_text()
    holder.rollback()
    holder.close()
    other.close()


def test_client_idle_timeout(make_rpool):
    rp = make_rpool(workers=1, settings={"client_idle_timeout": "1"})
    c = rp.connect()
    time.sleep(1.6)
    with pytest.raises(psycopg2.Error):
        with c.cursor() as cur:
            cur.execute("SELECT 1")
    assert "client_idle_timeout" in rp.log_text()


def test_unsupported_startup_parameter(make_rpool):
    rp = make_rpool(workers=1)
    assert "unsupported startup parameter: options" in login_error(rp, options="-csearch_path=x")
    rp2 = make_rpool(workers=1, settings={"ignore_startup_parameters": "options, extra_float_digits"})
    c = rp2.connect(options="-csearch_path=x")
    c.close()


def test_scram_secret_in_auth_file_is_passed_through(pg, make_rpool):
    """auth_file holds Postgres's own SCRAM secret, not the password: rpool logs in with the client's keys."""
    secret = pg.sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")[0][0]
    assert secret.startswith("SCRAM-SHA-256$")
    rp = make_rpool(workers=1, auth_type="scram-sha-256")
    with open(rp.userlist, "w") as f:
        f.write(f'"app" "{secret}"\n"admin" "admin-secret"\n')
    import os
    import signal
    os.kill(rp.pid, signal.SIGHUP)  # the workers read the new auth_file
    deadline = time.time() + 3
    while time.time() < deadline and rp.log_text().count("configuration reloaded") < 1:
        time.sleep(0.05)
    c = rp.connect(user="app")
    with c.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == "app"
    c.close()
    assert 'password authentication failed for user "app"' in login_error(rp, user="app", password="nope")


def test_idle_transaction_timeout_and_query_timeout(pg, make_rpool):
    rp = make_rpool(workers=1, settings={"idle_transaction_timeout": "1", "query_timeout": "1"})
    idle = rp.connect()
    idle.autocommit = False
    with idle.cursor() as cur:
        cur.execute("SELECT 1")  # transaction open, then nothing
    slow = rp.connect()
    t0 = time.time()
    with pytest.raises(psycopg2.Error):
        with slow.cursor() as cur:
            cur.execute("SELECT pg_sleep(10)")
    assert time.time() - t0 < 3
    time.sleep(0.5)
    with pytest.raises(psycopg2.Error):
        with idle.cursor() as cur:
            cur.execute("SELECT 2")
    text = rp.log_text()
    assert "query_timeout" in text and "idle_transaction_timeout" in text
    deadline = time.time() + 3
    while time.time() < deadline and pg.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' "
                                            "AND state <> 'idle'")[0][0] != "0":
        time.sleep(0.1)
    assert pg.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state <> 'idle'")[0][0] == "0"
