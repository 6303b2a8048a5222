#!/usr/bin/python3
"""Writes the seed corpora of the three fuzzers into fuzz/corpus/<target>/ (the files are checked in; run this
again after changing it). Seeds are small, valid and nearly valid inputs: the fuzzer mutates from them."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- scenario: every example, some with --set edits appended (NUL-separated), and a few broken documents.
examples = os.path.join(ROOT, "scenarios", "examples")
for name in sorted(os.listdir(examples)):
    if name.endswith(".json"):
        with open(os.path.join(examples, name), "rb") as f:
            write("scenario", name, f.read())
with open(os.path.join(examples, "pinning_imbalance.json"), "rb") as f:
    base = f.read()
edits = [
    ["pooler.processes=4", "clients.0.count=64"],
    ["run.duration=30s", "run.warmup=1s", "run.replications=3"],
    ['clients.0.think_time={"kind": "exponential", "mean": "1ms"}'],
    ["clients.1.count=8", "pooler.pool_mode=transaction"],
    ["pooler.processes=null"],
    ["kernel.reuseport.hash=linux_6_14", "pooler.pool_size=0"],
]
for i, e in enumerate(edits):
    write("scenario", f"edits_{i}.bin", base + b"".join(b"\0" + x.encode() for x in e))
write("scenario", "empty_object.json", "{}")
write("scenario", "minimal.json", '{"name": "m", "pooler": {"processes": 1}, "clients": [{"count": 1}]}')
write("scenario", "duplicate_key.json", '{"pooler": {"processes": 1, "processes": 2}}')
write("scenario", "bad_duration.json", '{"run": {"duration": "-5 parsecs"}}')
write("scenario", "huge_numbers.json", '{"pooler": {"processes": 1e308, "pool_size": -9223372036854775809}}')
write("scenario", "deep.json", "[" * 64 + "]" * 64)
write("scenario", "truncated.json", base[: len(base) // 2])

# --- protocol: options byte (auth mode in bits 0-1, piece size selector in bits 2-4) + client bytes.
def startup(params, version=196608):
    body = struct.pack("!I", version) + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def msg(kind, body):
    return kind + struct.pack("!I", len(body) + 4) + body


ssl = struct.pack("!II", 8, 80877103)
gss = struct.pack("!II", 8, 80877104)
cancel = struct.pack("!IIII", 16, 80877102, (1 << 22) | 5, 0x12345678)
login = startup([("user", "alice"), ("database", "app"), ("application_name", "psql")])
md5_pw = msg(b"p", b"md5" + hashlib.md5(b"x").hexdigest().encode() + b"\0")
client_first = b"n,,n=,r=fyko+d2lbbFgONRv9qkxdawL"
sasl_initial = msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(client_first)) + client_first)
sasl_final = msg(b"p", b"c=biws,r=fyko+d2lbbFgONRv9qkxdawLabc,p=" + b"A" * 43 + b"=")
admin = startup([("user", "stats"), ("database", "pgbouncer")])
queries = b"".join(msg(b"Q", q.encode() + b"\0") for q in
                   ["SHOW POOLS;", "show stats", "SHOW CLIENTS", "SHOW SERVERS", "SHOW CONFIG", "SHOW WORKERS",
                    "SHOW VERSION", "SHOW STATE", "SHOW DATABASES", "RELOAD", "PAUSE app", "", "select 1"])
seeds = {
    "md5_login": (0, login + md5_pw),
    "md5_login_bytewise": (0 | 1 << 2, login + md5_pw),
    "scram_login": (1, login + sasl_initial + sasl_final),
    "scram_login_pieces": (1 | 5 << 2, login + sasl_initial + sasl_final),
    "ssl_then_login": (0, ssl + login + md5_pw),
    "gss_ssl_then_login": (1 | 3 << 2, gss + ssl + login),
    "cancel": (0, cancel),
    "cancel_short": (0, struct.pack("!II", 12, 80877102) + b"\0\0\0\1"),
    "protocol_2": (0, startup([("user", "u")], version=2 << 16)),
    "protocol_3_1": (0, startup([("user", "u")], version=(3 << 16) | 1)),
    "no_user": (0, startup([("database", "app")])),
    "unsupported_param": (0, startup([("user", "u"), ("options", "-c x=1")])),
    "ignored_param": (1, startup([("user", "u"), ("extra_float_digits", "3"), ("TimeZone", "UTC")])),
    "unterminated_params": (0, struct.pack("!I", 17) + struct.pack("!I", 196608) + b"user\0bob"),
    "length_too_small": (0, struct.pack("!II", 4, 196608)),
    "length_too_big": (0, struct.pack("!II", 10001, 196608)),
    "length_max": (0, struct.pack("!II", 0xFFFFFFFF, 196608)),
    "password_wrong_type": (0, login + msg(b"Q", b"select 1\0")),
    "password_bad_length": (0, login + b"p" + struct.pack("!I", 2)),
    "sasl_bad_length": (1, login + msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", 0xFFFFFFFF))),
    "sasl_wrong_mech": (1, login + msg(b"p", b"PLAIN\0" + struct.pack("!I", 4) + b"abcd")),
    "admin_console": (2, admin + queries + msg(b"X", b"")),
    "admin_console_pieces": (2 | 6 << 2, admin + queries),
    "admin_extended": (2, admin + msg(b"P", b"\0select 1\0\0\0") + msg(b"S", b"") + msg(b"H", b"")),
    "admin_not_allowed": (2, startup([("user", "mallory"), ("database", "pgbouncer")])),
    "trust_no_database": (2, startup([("user", "u"), ("database", "app")])),
    "error_response_body": (0, b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"),
    "parameter_status_body": (0, b"application_name\0psql\0"),
}
for name, (options, data) in seeds.items():
    write("protocol", name + ".bin", bytes([options]) + data)

# --- config: the ini files rpool's tests and docs use, plus broken ones; auth_file after a NUL.
userlist = '"alice" "secret"\n"bob" "md5' + hashlib.md5(b"secretbob").hexdigest() + '"\n' \
           '"carol" "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy"\n"quo""te" "x"\n'
full = """;; rpool configuration
[databases]
app = host=127.0.0.1 port=5432 dbname=app pool_size=10
forced = host=/var/run/postgresql dbname=app user=app password='it''s \\'quoted\\''
* = host=localhost port=5433 max_db_connections=50

[rpool]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir = /tmp
auth_type = scram-sha-256
auth_file = /etc/rpool/userlist.txt
admin_users = admin, root
stats_users = stats
ignore_startup_parameters = extra_float_digits,options
pool_mode = transaction
default_pool_size = 20
min_pool_size = 2
reserve_pool_size = 5
reserve_pool_timeout = 0.5
max_client_conn = 1000
max_db_connections = 100
server_reset_query = DISCARD ALL
server_idle_timeout = 600
server_lifetime = 3600
server_connect_timeout = 15
query_wait_timeout = 120
client_idle_timeout = 0
idle_transaction_timeout = 30
query_timeout = 0
client_login_timeout = 60
client_write_timeout = 60
shutdown_timeout = 30
stats_period = 60
logfile = /var/log/rpool.log
pidfile = /run/rpool.pid
listen_backlog = 4096
workers = 4
cpu_affinity = 0,1,2,3
so_reuseport = 1
verbose = 1
"""
write("config", "full.ini", full + "\0" + userlist)
write("config", "minimal.ini", "[pgbouncer]\nauth_type = trust\n")
write("config", "pgbouncer_style.ini", "[databases]\n* = host=127.0.0.1\n[pgbouncer]\nauth_type = md5\n"
      "auth_file = users.txt\npool_mode = session\n[users]\nalice = pool_mode=transaction\n")
write("config", "userlist.txt", "\0" + userlist)
write("config", "bad_section.ini", "[nonsense]\nkey = value\n")
write("config", "bad_value.ini", "[rpool]\nauth_type = trust\npool_mode = sometimes\n")
write("config", "unterminated_quote.ini", "[databases]\napp = host='never ends\n")
write("config", "affinity_mismatch.ini", "[rpool]\nauth_type = trust\nworkers = 2\ncpu_affinity = 0\n")
write("config", "numbers.ini", "[rpool]\nauth_type = trust\nlisten_port = 99999\nstats_period = 0.5\n"
      "query_timeout = 1e3\nworkers = -1\n")
write("config", "crlf.ini", "[rpool]\r\nauth_type = trust\r\n; comment\r\n# comment\r\n")
write("config", "no_section.ini", "listen_port = 6432\n")
