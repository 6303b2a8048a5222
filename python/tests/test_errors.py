"""Errors: ScenarioError with the CLI's JSON path and message; TypeError and ValueError for bad arguments."""
import json
import os
import pickle

import pytest

import rpsim
from conftest import EXAMPLES, cli


@pytest.mark.parametrize("path,value,where,message", [
    ("pooler.processes", 0, "/pooler/processes", "must be at least 1, got 0"),
    ("pooler.pool_sise", 4, "/pooler/pool_sise", 'unknown key (did you mean "pool_size"?)'),
    ("pooler.processes", "four", "/pooler/processes", None),
    ("pooler.processes", 1.5, "/pooler/processes", None),
    ("pooler.pinning", "cores", None, None),  # valid: a control row
    ("run.duration", "3 parsecs", "/run/duration", None),
    ("clients.5.count", 3, "/clients/5", None),
    ("kernel.steering", "least_connection", "/kernel/steering", None),
])
def test_set_errors_are_the_clis(path, value, where, message):
    s = rpsim.Scenario.default()
    before = s.to_dict()
    if where is None:
        s.set(path, value)
        return
    with pytest.raises(rpsim.ScenarioError) as info:
        s.set(path, value)
    e = info.value
    assert e.path == where
    if message is not None:
        assert e.message == message
    assert str(e) == f"{e.path}: {e.message}"
    assert s.to_dict() == before  # a failed edit leaves the scenario as it was
    # The CLI prints the same line for the same edit (values passed as JSON text so types are the same).
    proc = cli("run", "--set", f"{path}={json.dumps(value)}", "--duration", "1s", "--quiet", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"rpsim: {e}"


def test_scenario_error_is_a_value_error_and_pickles():
    with pytest.raises(ValueError):
        rpsim.Scenario.default().set("pooler.processes", -1)
    try:
        rpsim.Scenario.from_dict({"pooler": {"processes": 0}})
    except rpsim.ScenarioError as e:
        copy = pickle.loads(pickle.dumps(e))
        assert type(copy) is rpsim.ScenarioError
        assert (copy.path, copy.message) == ("/pooler/processes", "must be at least 1, got 0")


def test_from_dict_errors():
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.Scenario.from_dict({"pooler": {"processes": 2, "pinning": "cores"}, "hosts": [
            {"name": "pooler", "address": "10.0.0.1", "cores": 1}, {"name": "db", "address": "10.0.0.2"},
            {"name": "client", "address": "10.0.0.3"}]})
    assert info.value.path == "/pooler/pinning"
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.Scenario.from_dict({"clients": [{"count": 4, "mode": "open"}]})
    assert info.value.path == "/clients/0/rate"
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.Scenario.from_dict({"pooler": {"pool_size": float("nan")}})
    assert info.value.path == "/pooler/pool_size"


def test_bad_types():
    with pytest.raises(TypeError, match="a scenario is a dict"):
        rpsim.Scenario.from_dict([1, 2])
    with pytest.raises(TypeError, match="/pooler/processes: object is not a JSON value"):
        rpsim.Scenario.from_dict({"pooler": {"processes": object()}})
    with pytest.raises(TypeError, match="dotted string"):
        rpsim.Scenario.default().set(42, 1)
    with pytest.raises(TypeError, match="needs a value"):
        rpsim.Scenario.default().set("pooler.processes")
    with pytest.raises(TypeError, match="expected a Scenario"):
        rpsim.run(42)
    s = rpsim.Scenario.default()
    with pytest.raises(TypeError, match="seed must be an integer"):
        rpsim.run(s, seed="7")
    with pytest.raises(TypeError, match="replications must be an integer"):
        rpsim.run(s, replications=2.0)
    with pytest.raises(ValueError, match="threads"):
        rpsim.run(s, threads=0)
    with pytest.raises(TypeError, match="duration"):
        rpsim.run(s, duration=[1])
    with pytest.raises(TypeError, match="grid"):
        rpsim.sweep(s, {})
    with pytest.raises(TypeError, match="list of values"):
        rpsim.sweep(s, {"pooler.processes": 4})


def test_run_overrides_are_validated_with_their_path():
    s = rpsim.Scenario.default()
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.run(s, seed=-1)
    assert info.value.path == "/run/seed"
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.run(s, replications=0)
    assert info.value.path == "/run/replications"
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.run(s, duration="soon")
    assert info.value.path == "/run/duration"
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.run(s, timeseries_interval="often")
    assert info.value.path == "timeseries_interval"


def test_a_bad_grid_point_fails_before_anything_runs():
    s = rpsim.Scenario.default()  # 4 cores: "cores" pinning cannot place 8 processes
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.sweep(s, {"pooler.processes": [1, 8]}, duration="60s")
    assert info.value.path == "/pooler/pinning"


def test_file_errors(tmp_path):
    missing = str(tmp_path / "missing.json")
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.Scenario.load(missing)
    assert info.value.path == missing and info.value.message.startswith("cannot read")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "pooler": {"processes": 2,}\n}\n')
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.Scenario.load(bad)
    assert info.value.path.startswith(str(bad) + ":2:")
    proc = cli("check", str(bad), timeout=30)
    assert proc.returncode == 2 and proc.stderr.strip() == f"rpsim: {info.value}"
    with pytest.raises(rpsim.ScenarioError) as info:
        rpsim.Scenario.from_json("[1, 2]")
    assert info.value.path == "/"
