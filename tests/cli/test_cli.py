"""End-to-end tests of `rpsim run`, `check` and `sweep`: outputs, determinism, and one-line errors for bad input."""
import csv
import io
import json

import pytest

from conftest import SOURCE_DIR, results, rpsim

SHORT = ["--duration", "2s", "--warmup", "500ms"]


def test_run_default_prints_a_table():
    proc = rpsim("run", *SHORT, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "throughput" in proc.stdout and "imbalance" in proc.stdout


def test_results_document_has_every_documented_key():
    r = results(*SHORT)
    for key in ["scenario", "seed", "replications", "throughput_tps", "latency_ms", "processes", "imbalance",
                "postgres", "kernel", "engine"]:
        assert key in r, key
    assert set(r["throughput_tps"]) >= {"mean", "ci95"}
    assert set(r["latency_ms"]) >= {"mean", "p50", "p95", "p99", "p999"}
    for p in r["processes"]:
        assert set(p) >= {"index", "cpus", "client_connections", "transactions", "throughput_tps", "utilization",
                          "wait_ms", "server_connections"}
        assert set(p["client_connections"]) == {"mean", "max"}
        assert set(p["wait_ms"]) == {"mean", "p99"}
        assert set(p["server_connections"]) >= {"mean", "max"}
        # Busy servers are a subset of the open ones.
        assert p["server_connections"]["active_mean"] <= p["server_connections"]["mean"] + 1e-9
    assert set(r["imbalance"]) >= {"connections_max_over_mean", "load_max_over_mean", "jain_index"}
    assert set(r["postgres"]) >= {"backends", "utilization", "refused_logins"}
    assert set(r["kernel"]) >= {"accept_queue_resets", "syn_drops"}
    assert set(r["engine"]) == {"events", "wall_s", "events_per_s"}
    # Throughput and latency are consistent with the closed loop: Little's law over all clients, L = X * R, where
    # L is at most the number of clients (they also think and connect); the default has no think time.
    assert r["throughput_tps"]["mean"] > 0


def strip_timing(doc):
    doc = json.loads(json.dumps(doc))
    del doc["engine"]["wall_s"]
    del doc["engine"]["events_per_s"]
    return json.dumps(doc, sort_keys=True)


def test_same_seed_same_bytes_for_any_thread_count():
    # Expected: identical documents (apart from wall-clock timing) for 1, 2 and 3 threads, and for a rerun.
    docs = [strip_timing(results(*SHORT, "--replications", "3", "--threads", t, "--seed", "11")) for t in ["1", "2", "3"]]
    docs.append(strip_timing(results(*SHORT, "--replications", "3", "--threads", "1", "--seed", "11")))
    assert len(set(docs)) == 1


def test_a_different_seed_gives_different_results():
    a = results(*SHORT, "--seed", "1")
    b = results(*SHORT, "--seed", "2")
    assert a["engine"]["events"] != b["engine"]["events"]


def test_set_and_overrides_reach_the_scenario():
    r = results(*SHORT, "--set", "pooler.processes=3", "--replications", "2", "--seed", "5")
    assert len(r["processes"]) == 3
    assert r["replications"] == 2 and r["seed"] == 5
    assert r["scenario"]["pooler"]["processes"] == 3


def test_timeseries_csv(tmp):
    out = tmp / "series.csv"
    proc = rpsim("run", *SHORT, "--quiet", "--timeseries", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert rows and set(rows[0]) == {"time_s", "replication", "process", "connections", "utilization",
                                     "waiting_clients", "servers", "transactions"}
    assert {r["process"] for r in rows} == {"0", "1"}


def test_check_accepts_every_example():
    import glob
    examples = sorted(glob.glob(f"{SOURCE_DIR}/scenarios/examples/*.json"))
    assert examples
    for path in examples:
        proc = rpsim("check", path)
        assert proc.returncode == 0, (path, proc.stderr)


def test_sweep_writes_the_grid_as_csv_and_json(tmp):
    # Expected: 2 x 2 = 4 rows, the first axis varying slowest.
    proc = rpsim("sweep", f"{SOURCE_DIR}/scenarios/examples/pool_exhaustion.json", *SHORT,
                 "--vary", "pooler.processes=1,2", "--vary", "pooler.pool_size=2,4")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["pooler.processes"], r["pooler.pool_size"]) for r in rows] == [("1", "2"), ("1", "4"), ("2", "2"), ("2", "4")]
    assert all(float(r["throughput_tps"]) > 0 for r in rows)
    out = tmp / "grid.json"
    proc = rpsim("sweep", f"{SOURCE_DIR}/scenarios/examples/pool_exhaustion.json", *SHORT,
                 "--vary", "pooler.processes=1,2", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out.read_text())) == 2


BAD = [
    # (edit or file content, the path the one-line message must name)
    (["--set", "pooler.processes=0"], "/pooler/processes"),
    (["--set", "pooler.pool_sise=4"], "did you mean \"pool_size\""),
    (["--set", "run.duration=0s"], "/run/duration"),
    (["--set", "run.duration=-5s"], "/run/duration"),
    (["--set", "run.duration=12"], "/run/duration"),
    (["--set", "pooler.processes=\"two\""], "/pooler/processes"),
    (["--set", "pooler.pinning=[[0],[99]]"], "/pooler/pinning/1/0"),
    (["--set", "clients.0.think_time={\"kind\":\"gamma\"}"], "/clients/0/think_time"),
    (["--replications", "0"], "/run/replications"),
    (["--set", "nonsense"], "nonsense"),
]


@pytest.mark.parametrize("args,where", BAD)
def test_bad_input_gets_one_line_and_exit_2(args, where):
    proc = rpsim("run", *SHORT, "--quiet", *args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert where in lines[0], lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("content,where", [
    ('{"name": "x",', ":1:"),
    ('{"pooler": {"processes": 2}, "pooler": 3}', "/pooler"),
    ('[1, 2]', "/"),
    ('{"clients": [{"hosts": ["nowhere"]}]}', "/clients/0/hosts/0"),
])
def test_bad_files_get_one_line_and_exit_2(tmp, content, where):
    path = tmp / "bad.json"
    path.write_text(content)
    proc = rpsim("check", str(path))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and where in lines[0], proc.stderr


def test_missing_file_and_unwritable_output():
    proc = rpsim("run", "/nonexistent/scenario.json")
    assert proc.returncode == 2 and "/nonexistent/scenario.json" in proc.stderr
    proc = rpsim("run", *SHORT, "--quiet", "--json", "/nonexistent/dir/out.json")
    assert proc.returncode != 0 and "cannot open" in proc.stderr


def test_usage_errors_exit_2():
    assert rpsim().returncode == 2
    assert rpsim("run", "--threads", "0").returncode == 2
    assert rpsim("sweep", f"{SOURCE_DIR}/scenarios/examples/pool_exhaustion.json").returncode == 2  # --vary required
    proc = rpsim("sweep", f"{SOURCE_DIR}/scenarios/examples/pool_exhaustion.json", "--vary", "pooler.processes=1,0")
    assert proc.returncode == 2 and "/pooler/processes" in proc.stderr


@pytest.mark.parametrize("args,where", [
    ([b"--set", b"run.warmup=1\x99s"], "--set"),
    ([b"--set", b"name=\xff"], "--set"),
    ([b"--duration", b"1\x99s"], "--duration"),
    ([b"--warmup", b"\xc0\xafs"], "--warmup"),
])
def test_bytes_that_are_not_utf8_get_one_line_and_exit_2(args, where):
    # Found by the scenario fuzzer: such bytes reached nlohmann's dump(), which threw (exit 1, no path). A
    # --set value that passed validation would have failed only when the results were written, after the run.
    import subprocess
    from conftest import RPSIM
    proc = subprocess.run([RPSIM.encode(), b"run", b"--quiet", *args], capture_output=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    assert len(lines) == 1 and where in lines[0] and "UTF-8" in lines[0], lines


def test_vary_values_that_are_not_utf8_are_refused_before_running():
    import subprocess
    from conftest import RPSIM
    proc = subprocess.run([RPSIM.encode(), b"sweep", f"{SOURCE_DIR}/scenarios/examples/pool_exhaustion.json".encode(),
                           b"--vary", b"name=a,\xff"], capture_output=True, timeout=60)
    assert proc.returncode == 2 and b"--vary" in proc.stderr and proc.stdout == b""


def test_utf8_names_are_fine():
    r = results(*SHORT, "--set", "name=d\u00e9j\u00e0 vu \u2014 \U0001F600")
    assert r["scenario"]["name"] == "d\u00e9j\u00e0 vu \u2014 \U0001F600"
