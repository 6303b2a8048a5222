"""One small adapter per pooler under test: start N workers sharing a port with SO_REUSEPORT, read per-worker
figures, stop. Both sit on tests/pooler/pgfixture.py's Pooler (imported, not copied).

Per-worker figures, the same shape for every pooler (read_workers()):
  index, pid, clients (client connections to the benchmark database, counted after their startup packet),
  xact_count, query_count, xact_time_us, wait_time_us (cumulative, from the pooler's own console),
  cpu_s (utime+stime of the worker process from /proc).
"""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "pooler"))
import pgfixture  # noqa: E402
import procstat  # noqa: E402

BENCH_DB = "bench"
ADMIN_PASSWORD = "admin-secret"


class Adapter:
    kind = "?"

    def __init__(self, pg, workers, pool_size=20, max_client_conn=400, pool_mode="transaction"):
        self.pg = pg
        self.workers = workers
        self.pool_size = pool_size
        self.pooler = None
        self.settings = {"default_pool_size": str(pool_size), "max_client_conn": str(max_client_conn)}
        self.pool_mode = pool_mode

    @property
    def port(self):
        return self.pooler.port

    def stop(self):
        if self.pooler is not None:
            try:
                self.pooler.cleanup()
            finally:
                self._kill_leftovers()
                self.pooler = None

    def _kill_leftovers(self):
        pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class PgBouncerAdapter(Adapter):
    """Debian's PgBouncer 1.18 as N separate processes, each with its own unix_socket_dir (and so its own admin
    console), pidfile and logfile, all with so_reuseport=1 on one TCP port."""
    kind = "pgbouncer"
    pinning = "none"  # PgBouncer has no affinity setting: the OS places each process

    def start(self):
        self.pooler = pgfixture.Pooler(self.pg, workers=self.workers, pool_mode=self.pool_mode, kind="pgbouncer",
                                       settings=self.settings)
        self.pooler.start()
        deadline = time.time() + 10
        while time.time() < deadline and len(self.worker_pids()) < self.workers:
            time.sleep(0.05)
        if len(self.worker_pids()) < self.workers:
            raise RuntimeError(f"only {len(self.worker_pids())} of {self.workers} pgbouncer processes started")
        # Every process must answer on its own admin socket before the experiment starts.
        for i in range(self.workers):
            self.admin(i, "SHOW VERSION")
        return self

    def _dir(self, i):
        return os.path.join(self.pooler.dir, f"p{i}")

    def worker_pids(self):
        pids = []
        for i in range(self.workers):
            try:
                with open(os.path.join(self._dir(i), "pgbouncer.pid")) as f:
                    pid = int(f.read().strip())
                if procstat.proc_cpu_seconds(pid) is not None:
                    pids.append(pid)
            except (OSError, ValueError):
                pass
        return pids

    def admin(self, i, command):
        dsn = f"host={self._dir(i)} port={self.port} dbname=pgbouncer user=admin password={ADMIN_PASSWORD}"
        return pgfixture.admin_query(dsn, command)

    def read_workers(self):
        pids = self.worker_pids()
        out = []
        for i in range(self.workers):
            stats = [r for r in self.admin(i, "SHOW STATS") if r["database"] == BENCH_DB]
            clients = [r for r in self.admin(i, "SHOW CLIENTS") if r["database"] == BENCH_DB]
            s = stats[0] if stats else {}
            pid = pids[i] if i < len(pids) else None
            out.append({"index": i, "pid": pid, "clients": len(clients),
                        "xact_count": int(s.get("total_xact_count", 0)),
                        "query_count": int(s.get("total_query_count", 0)),
                        "xact_time_us": int(s.get("total_xact_time", 0)),
                        "wait_time_us": int(s.get("total_wait_time", 0)),
                        "cpu_s": procstat.proc_cpu_seconds(pid) if pid else None})
        return out

    def client_counts(self):
        return [sum(1 for r in self.admin(i, "SHOW CLIENTS") if r["database"] == BENCH_DB)
                for i in range(self.workers)]

    def _kill_leftovers(self):
        # runuser forwards SIGTERM, but a pgbouncer left behind (runuser killed first) is stopped by its pid, only
        # after checking the pid is still that pgbouncer (pids wrap quickly on a busy machine).
        for pid, marker in getattr(self, "_last_pids", []):
            if marker.encode() not in pgfixture.cmdline(pid):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def stop(self):
        if self.pooler is not None:
            self._last_pids = [(pid, self.pooler.dir) for pid in self.worker_pids()]
        super().stop()


class RpoolAdapter(Adapter):
    """rpool's supervisor with `workers = N` SO_REUSEPORT worker processes; one admin console shows all workers
    (SHOW WORKERS, SHOW STATS and SHOW CLIENTS carry a `worker` column)."""
    kind = "rpool"
    pinning = "none"  # cpu_affinity left unset, like PgBouncer, so both run the same placement

    def __init__(self, pg, workers, binary=None, **kw):
        super().__init__(pg, workers, **kw)
        self.binary = binary

    def start(self):
        self.pooler = pgfixture.Pooler(self.pg, workers=self.workers, pool_mode=self.pool_mode, kind="rpool",
                                       settings=self.settings, binary=self.binary)
        self.pooler.start()
        return self

    def admin(self, command):
        return pgfixture.admin_query(self.pooler.dsn("pgbouncer", "admin"), command)

    def worker_pids(self):
        rows = self.admin("SHOW WORKERS")
        return [int(r["pid"]) for r in sorted(rows, key=lambda r: int(r["worker"]))]

    def read_workers(self):
        workers = sorted(self.admin("SHOW WORKERS"), key=lambda r: int(r["worker"]))
        stats = [r for r in self.admin("SHOW STATS") if r["database"] == BENCH_DB]
        clients = [r for r in self.admin("SHOW CLIENTS") if r["database"] == BENCH_DB]
        out = []
        for w in workers:
            i = int(w["worker"])
            s = [r for r in stats if int(r["worker"]) == i]
            s = s[0] if s else {}
            pid = int(w["pid"])
            out.append({"index": i, "pid": pid, "clients": sum(1 for c in clients if int(c["worker"]) == i),
                        "xact_count": int(s.get("total_xact_count", 0)),
                        "query_count": int(s.get("total_query_count", 0)),
                        "xact_time_us": int(s.get("total_xact_time", 0)),
                        "wait_time_us": int(s.get("total_wait_time", 0)),
                        "cpu_s": procstat.proc_cpu_seconds(pid)})
        return out

    def client_counts(self):
        clients = [r for r in self.admin("SHOW CLIENTS") if r["database"] == BENCH_DB]
        return [sum(1 for c in clients if int(c["worker"]) == i) for i in range(self.workers)]

    def _kill_leftovers(self):
        pass  # the fixture's stop() kills any worker the supervisor left behind


def make_adapter(kind, pg, workers, rpool_binary=None, **kw):
    if kind == "pgbouncer":
        return PgBouncerAdapter(pg, workers, **kw)
    if kind == "rpool":
        return RpoolAdapter(pg, workers, binary=rpool_binary, **kw)
    raise ValueError(kind)
