"""The pure check logic of bench/soak.py (issue 7's soak): memory levels, descriptor counts, log scanning and
pgbench parsing, on made-up samples and text. No Postgres, no rpool; runs in well under a second."""
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("soak", os.path.join(ROOT, "bench", "soak.py"))
soak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak)


def series(values, step=5.0, key="private_dirty_kb"):
    return [{"t": i * step, key: v} for i, v in enumerate(values)]


def test_flat_memory_passes():
    # 600 s sampled every 5 s at a constant 700 kB: both levels are 700, change 0%.
    r = soak.check_memory(series([700] * 121), 60, 600, 30, 0.05)
    assert (r["first"], r["end"], r["change_pct"], r["ok"]) == (700, 700, 0.0, True)
    assert r["slope_kb_per_min"] == 0.0


def test_growth_beyond_tolerance_fails():
    # 1000 kB until 60 s, then +2 kB per sample (24 kB/min). Level [60,90]: samples 12..18 = 1000..1012,
    # median 1006; level [570,600]: samples 114..120 = 1204..1216, median 1210; change 20.3% > 5%.
    vals = [1000 + 2 * max(0, i - 12) for i in range(121)]
    r = soak.check_memory(series(vals), 60, 600, 30, 0.05)
    assert r["first"] == 1006 and r["end"] == 1210
    assert r["change_pct"] == pytest.approx(100 * 204 / 1006)
    assert not r["ok"]
    assert r["slope_kb_per_min"] == pytest.approx(24.0)


def test_change_at_the_tolerance_edge():
    # End level exactly 5% above (1050 vs 1000) passes, 5.2% (1052) fails: the bound is inclusive.
    for end, ok in ((1050, True), (1052, False)):
        vals = [1000] * 60 + [end] * 61
        assert soak.check_memory(series(vals), 60, 600, 30, 0.05)["ok"] is ok


def test_drop_beyond_tolerance_fails():
    # The issue asks "within 5%" of the level: a fall from 1000 to 900 kB (-10%) is reported too.
    r = soak.check_memory(series([1000] * 60 + [900] * 61), 60, 600, 30, 0.05)
    assert r["change_pct"] == pytest.approx(-10.0) and not r["ok"]


def test_one_outlier_does_not_move_a_level():
    # Medians: one 5000 kB spike among seven samples of the end window leaves the level at 700.
    vals = [700] * 121
    vals[118] = 5000
    assert soak.check_memory(series(vals), 60, 600, 30, 0.05)["end"] == 700


def test_empty_window_is_an_error():
    with pytest.raises(ValueError):
        soak.window_level(series([1, 2, 3]), 100, 130, "private_dirty_kb")


def test_fds_back_to_baseline():
    assert soak.check_fds(10, 25, 10, 0, 0)["ok"]
    assert not soak.check_fds(10, 25, 11, 0, 0)["ok"]   # one descriptor more than before the clients
    assert not soak.check_fds(10, 25, 10, 1, 0)["ok"]   # a client socket left (and another fd closed)
    assert not soak.check_fds(10, 25, 10, 0, 1)["ok"]   # a server socket left
    assert not soak.check_fds(10, 25, None, None, None)["ok"]  # the process was gone at the end


def test_server_sessions():
    # 1 session before (pgbench -i), 41 after with nothing abandoned: rpool opened 40, all ended cleanly.
    assert soak.check_sessions([1, 0, 0, 0], [41, 0, 0, 0]) == {"opened": 40, "abandoned": 0, "fatal": 0,
                                                                "killed": 0, "ok": True}
    assert not soak.check_sessions([1, 0, 0, 0], [41, 2, 0, 0])["ok"]  # two dropped without a Terminate
    assert not soak.check_sessions([1, 0, 0, 0], [41, 0, 0, 1])["ok"]


LOG = """\
2026-11-23 10:00:00.000 UTC [100] supervisor LOG: rpool running: 2 workers on 127.0.0.1:6432, pool_mode=transaction
2026-11-23 10:00:00.100 UTC [101] worker 0 LOG: listening on 127.0.0.1:6432 (SO_REUSEPORT)
2026-11-23 10:00:01.000 UTC [101] worker 0 LOG: closing client app@bench: client closed the connection
2026-11-23 10:00:02.000 UTC [101] worker 0 WARNING: server_reset_query failed: boom
2026-11-23 10:00:03.000 UTC [102] worker 1 ERROR: accept4() failed: Too many open files
2026-11-23 10:00:04.000 UTC [100] supervisor LOG: worker 1 started, pid 102
2026-11-23 10:00:05.000 UTC [100] supervisor LOG: SIGTERM: stopping 2 workers
"""


def test_log_scan_finds_errors_and_abnormal_disconnects():
    # Expected: the LOG line of an abnormal client close, the WARNING and the ERROR; ordinary LOG lines not.
    unexpected, provoked = soak.scan_rpool_log(LOG)
    assert [line.split(" ", 7)[6] for line in unexpected] == ["LOG:", "WARNING:", "ERROR:"]
    assert provoked == []


def test_log_scan_separates_provoked_lines():
    unexpected, provoked = soak.scan_rpool_log(LOG, [r"Too many open files"])
    assert len(unexpected) == 2 and len(provoked) == 1 and "accept4" in provoked[0]


def test_pg_log_scan():
    text = ("2026-11-23 10:00:00 UTC [5] LOG:  database system is ready to accept connections\n"
            "2026-11-23 10:00:01 UTC [6] FATAL:  terminating connection due to administrator command\n")
    assert soak.scan_pg_log(text) == [text.splitlines()[1]]


def test_worker_indices_from_log():
    assert soak.worker_indices(LOG) == {102: 1}


PGBENCH = """\
transaction type: <builtin: select only>
number of transactions actually processed: 11893
number of failed transactions: 0 (0.000%)
latency average = 8.686 ms
average connection time = 4.120 ms
tps = 198.232760 (including reconnection times)
"""


def test_parse_pgbench():
    assert soak.parse_pgbench(PGBENCH) == {"tps": 198.23276, "transactions": 11893, "failed": 0,
                                           "latency_ms": 8.686, "connection_ms": 4.12}
    # A pgbench that died before its summary: every figure missing, which the soak counts as a failure.
    assert set(soak.parse_pgbench("pgbench: error: connection refused").values()) == {None}
