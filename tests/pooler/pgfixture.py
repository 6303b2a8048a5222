"""Reusable fixtures for tests that need a real PostgreSQL 15 and a running rpool (or PgBouncer).

Postgres refuses to run as root, so the cluster is initdb'ed into a temporary folder owned by the
`postgres` user and started as that user on a free loopback port. Every start has a matching stop that
also runs when a test fails (use the classes as context managers or through the pytest fixtures).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Users created in every test cluster: (name, password, how Postgres checks it for TCP logins)
USERS = [
    ("app", "app-secret", "scram-sha-256"),
    ("md5user", "md5-secret", "md5"),
    ("trustuser", "", "trust"),
]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _as_postgres(args, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + args, check=True, capture_output=True, text=True, **kw)


class PgServer:
    """A throw-away PostgreSQL 15 cluster on 127.0.0.1:port."""

    def __init__(self, max_connections=200):
        self.dir = tempfile.mkdtemp(prefix="rpool-pg-")
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.max_connections = max_connections
        self.running = False

    def start(self):
        os.makedirs(self.sock, exist_ok=True)
        shutil.chown(self.sock, "postgres", "postgres")
        if not os.path.exists(self.data):
            _as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                          "--no-sync", "--locale=C"])
            hba = ["local all all trust"]
            for name, _, method in USERS:
                hba.append(f"host all {name} 127.0.0.1/32 {method}")
            hba.append("host all all 127.0.0.1/32 scram-sha-256")
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
                f.write("\n".join(hba) + "\n")
            with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
                f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                        f"unix_socket_directories = '{self.sock}'\nmax_connections = {self.max_connections}\n"
                        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 64MB\n")
        self.pg_ctl("start", "-w", "-l", self.log)
        self.running = True
        if not getattr(self, "_users_made", False):
            for name, password, method in USERS:
                enc = "md5" if method == "md5" else "scram-sha-256"
                pw = f"PASSWORD '{password}'" if password else ""
                self.sql(f"SET password_encryption = '{enc}'; CREATE ROLE {name} LOGIN SUPERUSER {pw};")
            self._users_made = True
        return self

    def pg_ctl(self, *args):
        _as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data] + list(args))

    def stop(self, mode="fast"):
        if self.running:
            try:
                self.pg_ctl("stop", "-m", mode, "-w")
            except subprocess.CalledProcessError:
                pass
            self.running = False

    def restart(self, mode="immediate"):
        self.stop(mode)
        self.pg_ctl("start", "-w", "-l", self.log)
        self.running = True

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, query, db="postgres"):
        """Runs SQL as the superuser over the unix socket; returns stdout rows as lists."""
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "|", "-h", self.sock, "-p", str(self.port),
                              "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-c", query],
                             check=True, capture_output=True, text=True)
        return [line.split("|") for line in out.stdout.splitlines() if line]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def rpool_binary():
    path = os.environ.get("RPOOL_BIN") or os.path.join(ROOT, "build-pool", "rpool")
    if not os.path.exists(path):
        raise RuntimeError(f"rpool binary not found at {path}; set RPOOL_BIN")
    return path



def admin_query(dsn, command, connect_timeout=10):
    """Runs one command on an admin console (rpool's or a PgBouncer's) at dsn; returns a list of dicts."""
    import psycopg2
    import psycopg2.extras
    conn = psycopg2.connect(dsn, connect_timeout=connect_timeout)
    conn.autocommit = True
    try:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(command)
            return [dict(r) for r in cur.fetchall()] if cur.description else []
    finally:
        conn.close()


def cmdline(pid):
    """A process's command line as raw bytes (NUL-separated); b"" when it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _children(ppid):
    """Pids whose parent is ppid, from /proc (the command name in stat may hold spaces: parse after its ')')."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == ppid:
                out.append(int(entry))
    return out

class Pooler:
    """rpool (or PgBouncer, kind='pgbouncer') with a generated ini and auth_file, in front of a PgServer."""

    def __init__(self, pg, workers=2, pool_mode="transaction", auth_type="md5", settings=None, databases=None,
                 kind="rpool", binary=None):
        self.pg = pg
        self.kind = kind
        self.auth_type = auth_type
        self.dir = tempfile.mkdtemp(prefix=f"{kind}-")
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        self.workers = workers
        self.logfile = os.path.join(self.dir, f"{kind}.log")
        self.ini = os.path.join(self.dir, f"{kind}.ini")
        self.userlist = os.path.join(self.dir, "userlist.txt")
        self.procs = []
        self.binary = binary
        with open(self.userlist, "w") as f:
            for name, password, _ in USERS:
                f.write(f'"{name}" "{password}"\n')
            f.write('"admin" "admin-secret"\n')
            f.write('"stats" "stats-secret"\n')
        os.chmod(self.userlist, 0o600)  # rpool refuses an auth_file others can read (PgBouncer's copy widens it)
        if databases is None:
            databases = {
                "postgres": f"host=127.0.0.1 port={pg.port} dbname=postgres",
                "bench": f"host=127.0.0.1 port={pg.port} dbname=bench",
                "forced": f"host=127.0.0.1 port={pg.port} dbname=postgres user=app password=app-secret",
            }
        base = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": self.dir,
            "auth_type": auth_type,
            "auth_file": self.userlist,
            "admin_users": "admin",
            "stats_users": "stats",
            "pool_mode": pool_mode,
            "default_pool_size": "20",
            "max_client_conn": "200",
            "logfile": self.logfile,
            "pidfile": os.path.join(self.dir, f"{kind}.pid"),
        }
        if kind == "rpool":
            base["workers"] = str(workers)
            base["shutdown_timeout"] = "5"
        base.update(settings or {})
        self.settings = base
        self.databases = databases
        self.write_ini()

    def write_ini(self, dir_suffix=""):
        lines = ["[databases]"] + [f"{k} = {v}" for k, v in self.databases.items()]
        lines.append("[pgbouncer]")
        for k, v in self.settings.items():
            lines.append(f"{k} = {v}")
        text = "\n".join(lines) + "\n"
        with open(self.ini, "w") as f:
            f.write(text)
        return text

    def start(self):
        if self.kind == "rpool":
            # Its own session, as a daemon would have: with sched_autogroup the scheduler then shares CPU between
            # the pooler, Postgres and the clients as it would in production, not lumping pooler with clients.
            self.procs.append(subprocess.Popen([self.binary or rpool_binary(), self.ini], stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL, start_new_session=True))
            self._wait_ready()
        else:
            # N PgBouncer processes with so_reuseport: each needs its own unix_socket_dir, pidfile, logfile.
            for i in range(self.workers):
                d = os.path.join(self.dir, f"p{i}")
                os.makedirs(d, exist_ok=True)
                os.chmod(d, 0o777)
                s = dict(self.settings)
                s.update({"so_reuseport": "1", "unix_socket_dir": d, "pidfile": os.path.join(d, "pgbouncer.pid"),
                          "logfile": os.path.join(d, "pgbouncer.log")})
                ini = os.path.join(d, "pgbouncer.ini")
                with open(ini, "w") as f:
                    f.write("[databases]\n" + "".join(f"{k} = {v}\n" for k, v in self.databases.items()))
                    f.write("[pgbouncer]\n" + "".join(f"{k} = {v}\n" for k, v in s.items()))
                shutil.chown(d, "postgres", "postgres")
                os.chmod(self.userlist, 0o644)
                self.procs.append(subprocess.Popen(["runuser", "-u", "postgres", "--", self.binary or "pgbouncer",
                                                    ini], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                   start_new_session=True))
                time.sleep(0.2)
            if not wait_for_port(self.port):
                raise RuntimeError("pgbouncer did not start")
        return self

    def _wait_ready(self, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.procs[0].poll() is not None:
                raise RuntimeError(f"rpool exited with {self.procs[0].returncode}:\n{self.log_text()}")
            if self.log_text().count("listening on") >= self.workers and wait_for_port(self.port, 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("rpool did not become ready:\n" + self.log_text())

    @property
    def pid(self):
        return self.procs[0].pid

    def log_text(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ""

    def worker_pids(self):
        """Worker pids from the supervisor's children (rpool only)."""
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def dsn(self, db="postgres", user="app", password=None, **extra):
        if password is None:
            password = dict((n, p) for n, p, _ in USERS).get(user, "admin-secret" if user == "admin" else "")
        parts = [f"host=127.0.0.1 port={self.port} dbname={db} user={user}"]
        if password:
            parts.append(f"password={password}")
        parts += [f"{k}={v}" for k, v in extra.items()]
        return " ".join(parts)

    def worker_dir(self, index):
        """rpool: the unix socket folder that reaches worker `index` only."""
        return os.path.join(self.dir, f"rpool-{self.port}-w{index}")

    def connect_worker(self, index, db="postgres", user="app", password=None):
        """A connection to one chosen rpool worker, through its own unix socket."""
        import psycopg2
        dsn = self.dsn(db, user, password).replace("host=127.0.0.1", f"host={self.worker_dir(index)}")
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        return conn

    def connect(self, db="postgres", user="app", password=None, **extra):
        import psycopg2
        conn = psycopg2.connect(self.dsn(db, user, password, **extra))
        conn.autocommit = True
        return conn

    def admin(self, command):
        """Runs an admin-console command; returns a list of dicts."""
        return admin_query(self.dsn("pgbouncer", "admin"), command)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        # Workers are found while their supervisor still lives: once it is reaped they are re-parented to init,
        # and its pid may already belong to another process (pkill -P on it could hit a stranger's children).
        workers = _children(self.pid) if self.kind == "rpool" and self.procs else []
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(sig)
        for p in self.procs:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for pid in workers:
            # Any worker left behind (it should not be) is stopped too, if that pid is still an rpool.
            if b"rpool" in cmdline(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.procs = []

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def sleep_in_thread(conn, seconds=30):
    """Starts `SELECT pg_sleep(seconds)` on conn in a thread; returns (thread, result). result gets "cancelled"
    (the time the query was cancelled) or "error" (any other PostgreSQL error's text)."""
    import threading
    import psycopg2
    result = {}

    def run():
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT pg_sleep({seconds})")
        except psycopg2.errors.QueryCanceled:
            result["cancelled"] = time.time()
        except psycopg2.Error as e:
            result["error"] = str(e)

    t = threading.Thread(target=run)
    t.start()
    return t, result


def pgbench(pooler, args, db="bench", user="app", timeout=120):
    """Runs pgbench through the pooler; returns (returncode, stdout+stderr)."""
    env = dict(os.environ, PGPASSWORD=dict((n, p) for n, p, _ in USERS)[user])
    cmd = ["pgbench", "-h", "127.0.0.1", "-p", str(pooler.port), "-U", user, "-n"] + list(args) + [db]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return r.returncode, r.stdout + r.stderr
