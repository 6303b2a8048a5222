"""Configuration errors, SIGHUP reload, SIGTERM graceful stop and rolling restart."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import psycopg2
import pytest

from pgfixture import Pooler, rpool_binary, sleep_in_thread, wait_for_port


def check(rp):
    c = rp.connect()
    with c.cursor() as cur:
        cur.execute("SELECT 1")
    c.close()


@pytest.mark.parametrize("text,expect", [
    ("[pgbouncer]\nlisten_port = 6432\nbogus_key = 1\n", "3: key 'bogus_key': unknown key"),
    ("[pgbouncer]\nlisten_port = many\n", "2: key 'listen_port': 'many' is not an integer"),
    ("[pgbouncer]\npool_mode = sometimes\n", "2: key 'pool_mode'"),
    ("[databases]\nx = host=h portt=1\n", "2: key 'x.portt': unknown database parameter"),
    ("[nonsense]\n", "1: unknown section"),
])
def test_config_errors_are_one_line_with_key_and_line(tmp_path, text, expect):
    ini = tmp_path / "bad.ini"
    ini.write_text(text + "auth_type = trust\n" if "[pgbouncer]" in text else text)
    r = subprocess.run([rpool_binary(), str(ini)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert expect in lines[0], lines[0]


def test_sighup_reload(make_rpool):
    rp = make_rpool(workers=2)
    rp.settings["default_pool_size"] = "3"
    rp.write_ini()
    os.kill(rp.pid, signal.SIGHUP)
    time.sleep(0.5)
    config = {r["key"]: r["value"] for r in rp.admin("SHOW CONFIG")}
    assert config["default_pool_size"] == "3"
    assert rp.log_text().count("configuration reloaded") == 2
    check(rp)


def test_sigterm_lets_clients_finish(make_rpool):
    rp = make_rpool(workers=2, settings={"shutdown_timeout": "10"})
    c = rp.connect()
    os.kill(rp.pid, signal.SIGTERM)
    time.sleep(0.5)
    with c.cursor() as cur:  # an existing client keeps working while rpool drains
        cur.execute("SELECT 5")
        assert cur.fetchone()[0] == 5
    with pytest.raises(psycopg2.OperationalError):
        rp.connect()  # nobody listens any more
    assert rp.procs[0].poll() is None
    c.close()
    rp.procs[0].wait(5)
    assert rp.procs[0].returncode == 0


def migrate_req():
    with open("/proc/sys/net/ipv4/tcp_migrate_req") as f:
        return f.read().strip()


def test_rolling_restart_keeps_serving(make_rpool):
    sysctl_before = migrate_req()
    rp = make_rpool(workers=2, settings={"shutdown_timeout": "2"})
    old = set(rp.worker_pids())
    stop = threading.Event()
    failures = []
    ok = [0]

    def load():
        while not stop.is_set():
            try:
                check(rp)  # short sessions: each reconnects, as a rolling restart expects
                ok[0] += 1
            except psycopg2.Error as e:
                failures.append(str(e))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    r = subprocess.run([rpool_binary(), "--rolling-restart", rp.ini], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "rpool: rolling restart done" in r.stdout  # the command waits for the end and reports resets
    deadline = time.time() + 20
    while time.time() < deadline and "rolling restart done" not in rp.log_text():
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(5)
    assert "rolling restart done" in rp.log_text()
    new = set(rp.worker_pids())
    assert len(new) == 2 and not (new & old)
    assert ok[0] > 10
    # Connections reset by the kernel during the restart are reported; new connections never found the port dark.
    assert "connections reset by the kernel during it" in rp.log_text()
    state = {r["key"]: r["value"] for r in rp.admin("SHOW STATE")}
    assert state["rolling_restarts"] == "1"
    assert state["last_rolling_restart_resets"].isdigit()
    if "net.ipv4.tcp_migrate_req=1" in rp.log_text():
        # Queued connections of each closing listener move to the others: no client notices the restart.
        assert not failures, failures[:3]
        assert state["last_rolling_restart_resets"] == "0"
    # The sysctl is the whole namespace's: rpool turns it on for the restart only and puts the old value back.
    assert migrate_req() == sysctl_before


def servers_of(rp, db="postgres"):
    return [s for s in rp.admin("SHOW SERVERS") if s["database"] == db]


def test_min_pool_size_and_server_idle_timeout(make_rpool):
    rp = make_rpool(workers=1, settings={"min_pool_size": "3", "server_idle_timeout": "1"})
    c = rp.connect()  # a logged-in client makes the janitor keep 3 servers warm
    deadline = time.time() + 3
    while time.time() < deadline and len(servers_of(rp)) < 3:
        time.sleep(0.1)
    assert len(servers_of(rp)) == 3
    time.sleep(1.5)
    assert len(servers_of(rp)) == 3  # idle past server_idle_timeout, but min_pool_size keeps them
    c.close()


def test_server_idle_timeout_and_lifetime_close_servers(make_rpool):
    rp = make_rpool(workers=1, settings={"server_idle_timeout": "1", "server_lifetime": "100"})
    conns = [rp.connect() for _ in range(3)]
    for c in conns:
        c.autocommit = False
        with c.cursor() as cur:
            cur.execute("SELECT 1")  # three transactions at once need three servers
    for c in conns:
        c.commit()
    assert len(servers_of(rp)) == 3
    deadline = time.time() + 4
    while time.time() < deadline and servers_of(rp):
        time.sleep(0.2)
    assert servers_of(rp) == []
    rp2 = make_rpool(workers=1, settings={"server_lifetime": "1", "server_idle_timeout": "0"})
    c = rp2.connect()
    pids = set()
    for _ in range(15):
        with c.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pids.add(cur.fetchone()[0])
        time.sleep(0.2)
    assert len(pids) >= 2  # the server was replaced after server_lifetime
    for x in conns + [c]:
        x.close()


def test_max_db_connections(make_rpool):
    rp = make_rpool(workers=1, settings={"max_db_connections": "1", "query_wait_timeout": "1"})
    holder = rp.connect()
    holder.autocommit = False
    with holder.cursor() as cur:
        cur.execute("SELECT 1")
    r = subprocess.run(["psql", "-X", rp.dsn(), "-c", "SELECT 1"], capture_output=True, text=True, timeout=10)
    assert "query_wait_timeout" in r.stderr, r.stderr
    assert len(servers_of(rp)) == 1
    holder.rollback()
    holder.close()


def test_cpu_affinity(make_rpool):
    if os.cpu_count() < 2:
        pytest.skip("needs two CPUs")
    rp = make_rpool(workers=2, settings={"cpu_affinity": "1,0"})
    for c in [rp.connect() for _ in range(4)]:
        with c.cursor() as cur:
            cur.execute("SELECT 1")
        c.close()
    cpus = {w["worker"]: w["cpu"] for w in rp.admin("SHOW WORKERS")}
    assert cpus == {0: 1, 1: 0}


def test_daemon_mode_and_stop_command(make_rpool, pg):
    p = Pooler(pg, workers=2)
    try:
        r = subprocess.run([rpool_binary(), "-d", p.ini], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert wait_for_port(p.port)
        deadline = time.time() + 5
        while time.time() < deadline and p.log_text().count("listening on") < 2:
            time.sleep(0.05)
        c = p.connect()
        c.close()
        pid = int(open(p.settings["pidfile"]).read())
        assert subprocess.run([rpool_binary(), "--stop", p.ini]).returncode == 0
        deadline = time.time() + 10
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        try:  # a failed test must not leave the daemon behind
            os.kill(int(open(p.settings["pidfile"]).read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        shutil.rmtree(p.dir, ignore_errors=True)


def test_cancel_reaches_a_draining_worker_during_rolling_restart(make_rpool):
    rp = make_rpool(workers=2, settings={"shutdown_timeout": "15"})
    c = rp.connect_worker(0)
    t, result = sleep_in_thread(c)
    time.sleep(0.3)
    restart = subprocess.Popen([rpool_binary(), "--rolling-restart", rp.ini], stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and rp.log_text().count("worker 0 started") < 2:
        time.sleep(0.05)
    assert "SIGTERM: stop accepting" in rp.log_text() or rp.log_text().count("worker 0 started") >= 2
    time.sleep(0.3)
    t0 = time.time()
    c.cancel()  # lands on the successor or on worker 1, which forward it to the draining worker 0
    t.join(5)
    assert "cancelled" in result, result
    assert result["cancelled"] - t0 < 3
    # A client of the successor, while the predecessor still drains (c is still open), can be cancelled too.
    c2 = rp.connect_worker(0)  # the successor re-bound worker 0's socket
    t2, result = sleep_in_thread(c2)
    time.sleep(0.3)
    t0 = time.time()
    c2.cancel()
    t2.join(5)
    assert "cancelled" in result, result
    assert result["cancelled"] - t0 < 3
    c2.close()
    c.close()
    out, _ = restart.communicate(timeout=60)
    assert "rolling restart done" in out
