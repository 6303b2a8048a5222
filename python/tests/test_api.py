"""The rpsim package: scenarios, runs, results, sweeps, and Python giving the CLI's figures."""
import io
import json
import os
import threading
import time

import numpy as np
import pandas as pd
import pytest

import rpsim
from conftest import EXAMPLES, cli, cli_results, deterministic

SHORT = {"duration": "2s", "warmup": "0.5s"}


def test_default_matches_the_cli_default():
    s = rpsim.Scenario.default()
    assert s.name == "default"
    assert s.processes == 2 and s.clients == 40
    assert s.duration_s == 20 and s.warmup_s == 2 and s.seed == 1 and s.replications == 1
    assert "Scenario 'default'" in repr(s)


def test_load_from_dict_and_to_dict_round_trip(tmp_path):
    s = rpsim.Scenario.load(os.path.join(EXAMPLES, "pool_exhaustion.json"))
    assert s.name == "pool_exhaustion" and s.processes == 4
    d = s.to_dict()
    d["pooler"]["processes"] = 99  # a copy: the scenario does not change
    assert s.get("pooler.processes") == 4
    assert rpsim.Scenario.from_dict(s.to_dict()) == s
    path = tmp_path / "copy.json"
    s.save(path)
    assert rpsim.Scenario.load(path) == s
    assert rpsim.Scenario.from_json(s.to_json()) == s


def test_load_names_a_nameless_document_after_its_file(tmp_path):
    path = tmp_path / "my_world.json"
    path.write_text(json.dumps({"pooler": {"processes": 3}}))
    s = rpsim.Scenario.load(str(path))
    assert s.name == "my_world" and s.get("name") == "my_world" and s.processes == 3


def test_examples_ship_with_the_package():
    names = rpsim.examples()
    assert {"rolling_restart", "rolling_restart_migrate", "smt_siblings", "pinning_imbalance"} <= set(names)
    assert names == sorted(p[:-5] for p in os.listdir(EXAMPLES) if p.endswith(".json"))
    assert rpsim.example("smt_siblings").get("pooler.pinning") == "siblings"
    with pytest.raises(ValueError, match="no example named"):
        rpsim.example("nope")


def test_set_edits_in_place_chains_and_copies():
    s = rpsim.Scenario.default()
    t = s.copy().set("pooler.processes", 4).set("clients.0.count", 64)
    assert (s.processes, s.clients) == (2, 40)
    assert (t.processes, t.clients) == (4, 64)
    t.set("run.duration", "5s")
    assert t.duration_s == 5
    t.set("pooler.processes=3")  # the CLI's text form
    assert t.processes == 3
    t.set({"pooler.processes": 8, "pooler.pinning": "none"})  # only valid together: validated once at the end
    assert t.processes == 8 and t.get("pooler.pinning") == "none"
    t.set("pooler.pinning", None)  # None removes the key
    assert t.get("pooler.pinning", "absent") == "absent"
    with pytest.raises(KeyError):
        t.get("pooler.pinning")
    # NumPy values and tuples are plain JSON values.
    t.set("pooler.processes", np.int64(2)).set("pooler.pinning", (np.int32(0), 1))
    assert t.get("pooler.processes") == 2 and t.get("pooler.pinning") == [0, 1]


def test_run_result_shapes():
    s = rpsim.Scenario.default().set("pooler.processes", 4)
    r = rpsim.run(s, seed=3, replications=2, threads=2, **SHORT)
    assert r.summary["seed"] == 3 and r.summary["replications"] == 2
    assert r.summary["scenario"]["run"] == {"duration": "2s", "warmup": "0.5s", "seed": 3, "replications": 2}
    assert r.scenario.seed == 3 and s.seed == 1  # the argument is not modified
    assert list(r.processes.index) == [0, 1, 2, 3] and r.processes.index.name == "process"
    for column in ["client_connections_mean", "client_connections_max", "throughput_tps", "utilization",
                   "wait_ms_p99", "server_connections_max", "cpus"]:
        assert column in r.processes
    assert r.processes["throughput_tps"].sum() == pytest.approx(r.throughput_tps, rel=1e-9)
    assert list(r.by_replication["replication"]) == [0, 1]
    assert r.by_replication["throughput_tps"].mean() == pytest.approx(r.throughput_tps, rel=1e-12)
    pr = r.processes_by_replication
    assert len(pr) == 8 and set(pr["process"]) == {0, 1, 2, 3}
    assert pr.groupby("process")["connections_mean"].mean().to_numpy() == pytest.approx(
        r.processes["client_connections_mean"].to_numpy())
    assert r.timeseries is None
    assert r.latency_ms["p99"] == r.summary["latency_ms"]["p99"]
    assert set(r.imbalance.index) == {"connections_max_over_mean", "load_max_over_mean", "jain_index"}
    assert "throughput" in str(r) and "Result 'default'" in repr(r)
    assert json.loads(r.to_json()) == r.summary


def test_timeseries_on_request_or_from_the_scenario():
    s = rpsim.Scenario.default()
    r = rpsim.run(s, timeseries_interval="100ms", **SHORT)
    ts = r.timeseries
    assert list(ts.columns) == ["time_s", "replication", "process", "connections", "utilization",
                                "waiting_clients", "servers", "transactions"]
    assert len(ts) == 20 * 2 and ts["time_s"].iloc[0] == pytest.approx(0.6)
    assert "timeseries_interval" not in r.summary["scenario"]  # like --timeseries: the document is not edited
    r2 = rpsim.run(s.copy().set("timeseries_interval", "0.5s"), **SHORT)
    assert len(r2.timeseries) == 4 * 2
    r3 = rpsim.run(s, timeseries_interval=True, **SHORT)  # the CLI's choice: max(duration / 200, 10 ms)
    assert len(r3.timeseries) == 200 * 2


def test_same_seed_same_results_for_any_thread_count():
    s = rpsim.example("pinning_imbalance")
    a = rpsim.run(s, seed=9, replications=3, threads=1, **SHORT)
    b = rpsim.run(s, seed=9, replications=3, threads=3, **SHORT)
    assert deterministic(a.summary) == deterministic(b.summary)
    c = rpsim.run(s, seed=10, replications=3, **SHORT)
    assert deterministic(c.summary) != deterministic(a.summary)


@pytest.mark.parametrize("example,args", [
    ("pinning_imbalance", {"seed": 5, "replications": 2}),
    ("rolling_restart", {"seed": 2}),
    ("smt_siblings", {"replications": 2}),
])
def test_python_and_cli_give_identical_documents(example, args):
    path = os.path.join(EXAMPLES, example + ".json")
    cli_args = [path, "--duration", "4s", "--warmup", "1s", "-j", "2"]
    if "seed" in args:
        cli_args += ["--seed", str(args["seed"])]
    if "replications" in args:
        cli_args += ["--replications", str(args["replications"])]
    expected = cli_results(*cli_args)
    got = rpsim.run(rpsim.Scenario.load(path), duration="4s", warmup="1s", **args)
    assert deterministic(got.summary) == deterministic(expected)
    # The text itself has the CLI's formatting, apart from the two wall-clock figures.
    strip = lambda text: [l for l in text.splitlines() if '"wall_s"' not in l and '"events_per_s"' not in l]
    proc = cli("run", *cli_args, "--json", "-", "--quiet")
    assert strip(got.to_json()) == strip(proc.stdout)


def test_python_and_cli_agree_after_set_edits():
    expected = cli_results("--set", "pooler.processes=4", "--set", "clients.0.count=64", "--set",
                           "pooler.pinning=siblings", "--seed", "7", "--duration", "2s")
    s = rpsim.Scenario.default().set("pooler.processes", 4).set("clients.0.count", 64)
    s.set("pooler.pinning", "siblings")
    assert deterministic(rpsim.run(s, seed=7, duration="2s").summary) == deterministic(expected)


def test_python_and_cli_time_series_agree():
    path = os.path.join(EXAMPLES, "rolling_restart.json")
    proc = cli("run", path, "--duration", "3s", "--timeseries", "-", "--json", "/dev/null", "--quiet")
    assert proc.returncode == 0, proc.stderr
    expected = pd.read_csv(io.StringIO(proc.stdout[proc.stdout.index("time_s,"):]))
    got = rpsim.run(path, duration="3s", timeseries_interval=True).timeseries
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, atol=2e-6)


def test_sweep_is_tidy_and_equals_the_cli_sweep(tmp_path):
    path = os.path.join(EXAMPLES, "pool_exhaustion.json")
    grid = {"pooler.processes": [1, 2, 4], "pooler.pool_size": [2, 4]}
    df = rpsim.sweep(path, grid, replications=2, duration="2s", warmup="0.5s", threads=2)
    assert list(df.columns[:2]) == ["pooler.processes", "pooler.pool_size"]
    for ci in ["throughput_ci95", "latency_mean_ci95", "latency_p99_ci95"]:
        # A CI is 0 when both replications agree exactly (e.g. the same transaction count in a 2 s run), so
        # demand non-negative everywhere and a real spread somewhere.
        assert ci in df and (df[ci] >= 0).all() and (df[ci] > 0).any()
    assert list(zip(df["pooler.processes"], df["pooler.pool_size"])) == [(1, 2), (1, 4), (2, 2), (2, 4), (4, 2), (4, 4)]
    assert df.attrs["axes"] == ["pooler.processes", "pooler.pool_size"]
    out = tmp_path / "grid.json"
    proc = cli("sweep", path, "--vary", "pooler.processes=1,2,4", "--vary", "pooler.pool_size=2,4", "-r", "2",
               "--duration", "2s", "--warmup", "0.5s", "-o", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    expected = pd.DataFrame(json.loads(out.read_text()))[list(df.columns)]
    pd.testing.assert_frame_equal(df, expected, check_dtype=False)
    # The same point through run() has the same figures.
    one = rpsim.run(rpsim.Scenario.load(path).set({"pooler.processes": 2, "pooler.pool_size": 4}),
                    replications=2, duration="2s", warmup="0.5s")
    assert df.loc[3, "throughput_tps"] == one.summary["throughput_tps"]["mean"]
    assert df.loc[3, "latency_p99_ms"] == one.summary["latency_ms"]["p99"]


def test_sweep_accepts_numpy_and_list_values():
    s = rpsim.Scenario.default()
    df = rpsim.sweep(s, {"pooler.processes": np.arange(1, 3), "pooler.pinning": ["cores", "none"]},
                     duration="1s", warmup="0.2s")
    assert len(df) == 4 and df["pooler.processes"].tolist() == [1, 1, 2, 2]
    assert df["pooler.pinning"].tolist()[1] == "none"


def test_run_releases_the_gil():
    s = rpsim.Scenario.default()
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        start = time.monotonic()
        rpsim.run(s, duration="4s")
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        t.join()
    during = [x for x in ticks if start < x < start + elapsed]
    # With the GIL held for the whole run the other thread would not tick at all.
    assert elapsed > 0.05 and len(during) > 0.2 * elapsed / 0.002


def test_analytic_balls_into_bins():
    pmf = rpsim.analytic.max_load_pmf(64, 4)
    assert isinstance(pmf, np.ndarray) and len(pmf) == 65 and pmf.sum() == pytest.approx(1.0)
    assert (np.arange(65) * pmf).sum() == pytest.approx(rpsim.analytic.expected_max_load(64, 4), rel=1e-9)
    assert rpsim.analytic.expected_max_load(64, 1) == pytest.approx(64)
    assert rpsim.analytic.raab_steger_upper(64, 4) > rpsim.analytic.expected_max_load(64, 4) > 16
    assert np.isnan(rpsim.analytic.mm1_mean_wait(2.0, 1.0))
    with pytest.raises(ValueError):
        rpsim.analytic.mm1_mean_wait(-1.0, 1.0)


def test_scenarios_and_results_pickle():
    # Dask ships both between processes.
    import pickle
    s = rpsim.Scenario.default().set("pooler.processes", 3)
    t = pickle.loads(pickle.dumps(s))
    assert t == s and t.processes == 3 and t is not s
    r = rpsim.run(s, duration="1s", warmup="0.2s")
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.summary == r.summary and r2.processes.equals(r.processes) and r2.scenario == s.copy().set(
        {"run.duration": "1s", "run.warmup": "0.2s"})
