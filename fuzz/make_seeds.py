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

# --- session: options byte (pool mode in bits 0-1, piece size selector in bits 2-4, application_name in bit 5,
# early hang-up in bit 6), 2-byte length of the client part, the client's messages after login, then what
# Postgres answers after its login reply (see fuzz/fuzz_session.cpp). Realistic conversations, then broken ones.
SESSION, TRANSACTION, STATEMENT, NO_RESET = 0, 1, 2, 3
APP_NAME, HANG_UP_EARLY = 1 << 5, 1 << 6


def cstr(s):
    return s.encode() + b"\0"


def q(sql):
    return msg(b"Q", cstr(sql))


def ready(status):
    return msg(b"Z", status)


def complete(tag):
    return msg(b"C", cstr(tag))


def row_description(*names):
    # table oid, column number, type oid (int4), size, type modifier, format
    return msg(b"T", struct.pack("!H", len(names)) +
               b"".join(cstr(n) + struct.pack("!IhIhih", 0, 0, 23, 4, -1, 0) for n in names))


def data_row(*values):
    return msg(b"D", struct.pack("!H", len(values)) +
               b"".join(struct.pack("!i", -1) if v is None else struct.pack("!I", len(v)) + v for v in values))


def error(severity, code, text):
    return msg(b"E", b"S" + cstr(severity) + b"V" + cstr(severity) + b"C" + cstr(code) + b"M" + cstr(text) + b"\0")


def notice(text):
    return msg(b"N", b"SNOTICE\0VNOTICE\0C00000\0M" + cstr(text) + b"\0")


def session(name, options, client, server):
    write("session", name + ".bin", bytes([options]) + struct.pack("!H", len(client)) + client + server)


select_1 = row_description("?column?") + data_row(b"1") + complete("SELECT 1") + ready(b"I")
parse = msg(b"P", cstr("") + cstr("select $1::int") + struct.pack("!HI", 1, 23))
bind = msg(b"B", cstr("") + cstr("") + struct.pack("!HH", 1, 0) + struct.pack("!HI", 1, 2) + b"42" + struct.pack("!HH", 1, 0))
describe = msg(b"D", b"P" + cstr(""))
execute = msg(b"E", cstr("") + struct.pack("!I", 0))
sync = msg(b"S", b"")
flush = msg(b"H", b"")
terminate = msg(b"X", b"")
extended = parse + bind + describe + execute + sync
extended_reply = msg(b"1", b"") + msg(b"2", b"") + row_description("int4") + data_row(b"42") + complete("SELECT 1") + ready(b"I")
copy_in = q("COPY t FROM STDIN") + msg(b"d", b"1\tone\n") + msg(b"d", b"2\ttwo\n") + msg(b"c", b"")
copy_in_reply = msg(b"G", struct.pack("!bH", 0, 2) + struct.pack("!HH", 0, 0)) + complete("COPY 2") + ready(b"I")
copy_out = q("COPY t TO STDOUT")
copy_out_reply = (msg(b"H", struct.pack("!bH", 0, 2) + struct.pack("!HH", 0, 0)) + msg(b"d", b"1\tone\n") +
                  msg(b"d", b"2\ttwo\n") + msg(b"c", b"") + complete("COPY 2") + ready(b"I"))
error_in_tx = q("BEGIN") + q("select 1/0") + q("select 1") + q("ROLLBACK")
error_in_tx_reply = (complete("BEGIN") + ready(b"T") + error("ERROR", "22012", "division by zero") + ready(b"E") +
                     error("ERROR", "25P02", "current transaction is aborted") + ready(b"E") +
                     complete("ROLLBACK") + ready(b"I"))
begin_commit = q("BEGIN") + q("insert into t values (1)") + q("COMMIT")
begin_commit_reply = (complete("BEGIN") + ready(b"T") + complete("INSERT 0 1") + ready(b"T") + complete("COMMIT") +
                      ready(b"I"))
listen = q("SET application_name = 'web'; LISTEN jobs")
listen_reply = (complete("SET") + msg(b"S", cstr("application_name") + cstr("web")) + notice("hello") +
                complete("LISTEN") + ready(b"I") + msg(b"A", struct.pack("!I", 4242) + cstr("jobs") + cstr("42")))
prepared = (msg(b"P", cstr("s1") + cstr("select 1") + struct.pack("!H", 0)) + msg(b"D", b"S" + cstr("s1")) + flush +
            msg(b"C", b"S" + cstr("s1")) + sync)
prepared_reply = (msg(b"1", b"") + msg(b"t", struct.pack("!H", 0)) + row_description("?column?") + msg(b"3", b"") +
                  ready(b"I"))
conversations = {
    "simple_query": (q("select 1"), select_1),
    "extended_pipeline": (extended + extended, extended_reply + extended_reply),
    "copy_in": (copy_in, copy_in_reply),
    "copy_in_fail": (q("COPY t FROM STDIN") + msg(b"f", cstr("client gave up")),
                     msg(b"G", struct.pack("!bH", 0, 0)) + error("ERROR", "57014", "COPY from stdin failed") + ready(b"I")),
    "copy_out": (copy_out, copy_out_reply),
    "error_mid_transaction": (error_in_tx, error_in_tx_reply),
    "begin_commit": (begin_commit, begin_commit_reply),
    "listen_notice_parameter": (listen, listen_reply),
    "prepared_flush_close": (prepared, prepared_reply),
    "empty_query": (q(""), msg(b"I", b"") + ready(b"I")),
    "function_call": (msg(b"F", struct.pack("!IHHIHI", 1598, 0, 1, 4, 0, 0) + b"\0\0"),  # oid, formats, 1 arg, ...
                      msg(b"V", struct.pack("!I", 4) + b"\0\0\0\1") + ready(b"I")),
}
for name, (client, server) in conversations.items():
    session(name, SESSION, client, server)
    session(name + "_tx", TRANSACTION | 3 << 2, client, server)
    session(name + "_stmt", STATEMENT | 5 << 2, client, server)
session("simple_query_then_terminate", TRANSACTION, q("select 1") + terminate, select_1)
session("simple_query_app_name", SESSION | APP_NAME, q("select 1"),
        complete("SET") + msg(b"S", cstr("application_name") + cstr("fuzz")) + ready(b"I") + select_1)
session("begin_commit_bytewise", TRANSACTION | 1 << 2, begin_commit, begin_commit_reply)
session("begin_left_open_hang_up", TRANSACTION | HANG_UP_EARLY, q("BEGIN"), complete("BEGIN") + ready(b"T"))
session("reset_query_answered_late", SESSION | HANG_UP_EARLY, q("select 1"),
        select_1 + complete("DISCARD ALL") + ready(b"I"))
session("no_reset_query", NO_RESET | 2 << 2, q("select 1") + q("select 2"), select_1 + select_1)
session("statement_mode_begin", STATEMENT, q("BEGIN") + q("select 1"), complete("BEGIN") + ready(b"T"))
session("two_transactions_pieces", TRANSACTION | 6 << 2, q("select 1") + extended, select_1 + extended_reply)
session("idle_server_notification", TRANSACTION | HANG_UP_EARLY, q("select 1"),
        select_1 + msg(b"A", struct.pack("!I", 4242) + cstr("jobs") + cstr("")) +
        error("FATAL", "57P01", "terminating connection due to administrator command"))
session("client_bad_length", TRANSACTION, q("select 1") + b"Q" + struct.pack("!I", 3), select_1)
session("client_huge_length", SESSION, b"Q" + struct.pack("!I", 0x7FFFFFFF) + b"select", b"")
session("server_bad_length", SESSION, q("select 1"), b"T" + struct.pack("!I", 2) + b"xx")
session("server_truncated", TRANSACTION | 4 << 2, q("select 1"), select_1[:20])
session("server_garbage", SESSION, q("select 1"), b"\xff\x00\x00\x00\x08garbage!" + ready(b"X"))
session("ready_for_query_bad_length", TRANSACTION, q("select 1"), b"Z" + struct.pack("!I", 6) + b"II")
