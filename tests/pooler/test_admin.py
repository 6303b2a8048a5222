"""The admin console: SHOW commands with PgBouncer's columns, covering every worker with a worker column."""
import subprocess

import psycopg2
import pytest

POOL_COLUMNS = ["database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_login",
                "maxwait", "maxwait_us", "pool_mode"]
CONN_COLUMNS = ["type", "user", "database", "state", "addr", "port", "local_addr", "local_port", "connect_time",
                "request_time", "wait", "wait_us", "ptr", "link", "remote_pid", "tls", "application_name"]


@pytest.fixture
def busy_rpool(make_rpool):
    rp = make_rpool(workers=2)
    conns = [rp.connect() for _ in range(12)]
    for c in conns:
        with c.cursor() as cur:
            cur.execute("SELECT 1")
    yield rp, conns
    for c in conns:
        c.close()


def test_show_workers_pools_stats_cover_all_workers(busy_rpool):
    rp, conns = busy_rpool
    workers = rp.admin("SHOW WORKERS")
    assert [w["worker"] for w in workers] == [0, 1]
    assert all(w["pid"] > 0 for w in workers)
    assert all(w["accepted"] >= w["clients"] and w["cpu_user_us"] + w["cpu_sys_us"] > 0 for w in workers)
    # 12 clients plus the admin connection itself
    assert sum(w["clients"] for w in workers) == 13
    pools = rp.admin("SHOW POOLS")
    assert {p["worker"] for p in pools} == {0, 1}
    for col in POOL_COLUMNS:
        assert col in pools[0]
    assert sum(p["cl_active"] for p in pools if p["database"] == "postgres") == 12
    stats = rp.admin("SHOW STATS")
    assert sum(s["total_xact_count"] for s in stats if s["database"] == "postgres") >= 12
    assert "total_query_count" in stats[0] and "total_wait_time" in stats[0]


def test_show_clients_and_servers(busy_rpool):
    rp, conns = busy_rpool
    clients = rp.admin("SHOW CLIENTS")
    assert {c["worker"] for c in clients} == {0, 1}
    for col in CONN_COLUMNS:
        assert col in clients[0]
    assert len([c for c in clients if c["database"] == "postgres"]) == 12
    servers = rp.admin("SHOW SERVERS")
    assert servers and all(s["type"] == "S" for s in servers)
    assert all(s["remote_pid"] > 0 for s in servers)


def test_show_config_and_databases(make_rpool):
    rp = make_rpool(workers=2, settings={"default_pool_size": "7"})
    config = {r["key"]: r for r in rp.admin("SHOW CONFIG")}
    assert config["default_pool_size"]["value"] == "7"
    assert config["default_pool_size"]["default"] == "20"
    assert config["listen_port"]["changeable"] == "no"
    assert config["pool_mode"]["value"] == "transaction"
    dbs = {r["name"]: r for r in rp.admin("SHOW DATABASES")}
    assert dbs["forced"]["force_user"] == "app"


def test_psql_admin_console_and_stats_user(make_rpool):
    rp = make_rpool(workers=2)
    r = subprocess.run(["psql", "-X", rp.dsn("pgbouncer", "admin"), "-c", "SHOW WORKERS"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "(2 rows)" in r.stdout
    c = psycopg2.connect(rp.dsn("rpool", "stats", "stats-secret"))
    c.autocommit = True
    with c.cursor() as cur:
        cur.execute("SHOW POOLS")
        with pytest.raises(psycopg2.Error):
            cur.execute("RELOAD")  # stats users may only look
    c.close()


def test_worker_sockets_reach_the_chosen_worker(make_rpool):
    rp = make_rpool(workers=2)
    for index in (0, 1):
        c = rp.connect_worker(index)
        with c.cursor() as cur:
            cur.execute("SET application_name = 'pick-%d'" % index)
        rows = [r for r in rp.admin("SHOW CLIENTS") if r["application_name"] == f"pick-{index}"]
        assert [r["worker"] for r in rows] == [index]
        assert rows[0]["addr"] == "unix"
        c.close()


def test_pause_resume_reconnect_kill_reach_every_worker(make_rpool):
    import threading
    import time
    rp = make_rpool(workers=2)
    conns = [rp.connect_worker(0), rp.connect_worker(1)]
    before = []
    for c in conns:
        with c.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            before.append(cur.fetchone()[0])
    assert rp.admin("SHOW SERVERS")
    rp.admin("PAUSE")  # returns once no worker has a server left
    assert rp.admin("SHOW SERVERS") == []
    assert {r["key"]: r["value"] for r in rp.admin("SHOW STATE")}["paused"] == "yes"
    done = []

    def query(c):
        with c.cursor() as cur:
            cur.execute("SELECT 7")
            done.append(cur.fetchone()[0])

    threads = [threading.Thread(target=query, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    time.sleep(0.5)
    assert done == []  # held while paused, on both workers
    rp.admin("RESUME")
    for t in threads:
        t.join(5)
    assert done == [7, 7]

    def backend_pids():
        pids = []
        for c in conns:
            with c.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                pids.append(cur.fetchone()[0])
        return set(pids)

    mid = backend_pids()
    assert backend_pids() == mid  # LIFO reuse: the same servers again
    rp.admin("RECONNECT")
    assert not backend_pids() & mid  # fresh server connections after RECONNECT
    rp.admin("KILL postgres")
    for c in conns:
        with pytest.raises(psycopg2.Error):
            with c.cursor() as cur:
                cur.execute("SELECT 1")
    c = rp.connect()  # new clients are served again
    c.close()


def test_show_stats_averages_over_stats_period(make_rpool, tmp_path):
    import time
    from pgfixture import pgbench
    rp = make_rpool(workers=2, settings={"stats_period": "1"})
    script = tmp_path / "select.sql"
    script.write_text("SELECT 1;\n")
    rc, out = pgbench(rp, ["-f", str(script), "-T", "2", "-c", "4"], db="postgres")
    assert rc == 0, out
    time.sleep(0.3)
    stats = [s for s in rp.admin("SHOW STATS") if s["database"] == "postgres"]
    for col in ("avg_xact_count", "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time",
                "avg_wait_time"):
        assert col in stats[0]
    assert sum(s["avg_xact_count"] for s in stats) > 0
    assert all(s["avg_xact_time"] > 0 for s in stats if s["avg_xact_count"] > 0)
    clients = rp.admin("SHOW CLIENTS")
    assert all(c["id"] > 0 and c["replication"] == "none" for c in clients)
