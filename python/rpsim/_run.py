"""run(): one scenario, its replications, and the Result that holds what the CLI's JSON document holds."""
from __future__ import annotations

import json
import numbers
import operator
import os
from typing import Any, Optional, Union

import pandas as pd

from . import _core
from ._scenario import Scenario, as_scenario, scenario_error

Duration = Union[str, float, int]


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def check_threads(threads: Any) -> int:
    threads = _integer(threads, "threads")
    if not 1 <= threads <= 1024:
        raise ValueError(f"threads must be between 1 and 1024, got {threads}")
    return threads


def duration_text(value: Duration, name: str) -> str:
    """A duration as the format writes it: strings pass through, numbers are seconds."""
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not value >= 0:
            raise ValueError(f"{name} must be a non-negative number of seconds, got {value!r}")
        return _core.format_duration(round(float(value) * 1e9))
    raise TypeError(f"{name} must be a duration string such as '30s' or seconds as a number, got {type(value).__name__}")


def effective_doc(scenario: Any, seed: Any = None, replications: Any = None, duration: Any = None,
                  warmup: Any = None) -> str:
    """The scenario's document with the run options applied as the CLI applies --seed, --replications,
    --duration and --warmup (in that order, as --set edits), validated. JSON text."""
    s = as_scenario(scenario)
    doc = s._doc_text()
    if seed is not None:
        doc = _core.apply_set(doc, f"run.seed={_integer(seed, 'seed')}")
    if replications is not None:
        doc = _core.apply_set(doc, f"run.replications={_integer(replications, 'replications')}")
    if duration is not None:
        doc = _core.apply_set(doc, "run.duration=" + json.dumps(duration_text(duration, "duration")))
    if warmup is not None:
        doc = _core.apply_set(doc, "run.warmup=" + json.dumps(duration_text(warmup, "warmup")))
    _core.validate(doc)
    return doc


class Result:
    """What a run measured.

    Attributes
    ----------
    summary : dict
        The results document, the same as ``rpsim run --json`` writes for the same scenario and seed (only
        ``engine.wall_s`` and ``engine.events_per_s`` differ from run to run).
    processes : pandas.DataFrame
        One row per pooler process (index ``process``), from ``summary["processes"]`` with nested figures
        flattened: ``client_connections_mean``, ``wait_p99_ms``, ``server_connections_max``, ...
    timeseries : pandas.DataFrame or None
        Per-process samples (``time_s, replication, process, connections, utilization, waiting_clients,
        servers, transactions``, as ``rpsim run --timeseries`` writes them) when the scenario has a
        ``timeseries_interval`` or :func:`run` was given one; otherwise None.
    by_replication : pandas.DataFrame
        One row per replication: throughput, latency quantiles, Postgres, kernel and error counts.
    processes_by_replication : pandas.DataFrame
        One row per (replication, process): connections, transactions, utilization, waits, servers. This is
        what shows the spread between seeds that ``processes`` averages away.
    scenario : Scenario
        The effective scenario (after seed, replications, duration and warm-up were applied).
    """

    def __init__(self, raw: dict[str, Any], scenario: Scenario) -> None:
        self._json: str = raw["results"]
        self._table: str = raw["table"]
        self.summary: dict[str, Any] = json.loads(self._json)
        self.scenario = scenario
        self.by_replication = pd.DataFrame(raw["by_replication"])
        self.processes_by_replication = pd.DataFrame(raw["processes_by_replication"])
        self.timeseries: Optional[pd.DataFrame] = (
            None if raw["timeseries"] is None else pd.DataFrame(raw["timeseries"]))
        self.processes = self._processes_frame()

    def _processes_frame(self) -> pd.DataFrame:
        rows = []
        for p in self.summary["processes"]:
            row: dict[str, Any] = {}
            for key, value in p.items():
                if isinstance(value, dict):
                    for sub, x in value.items():
                        row[f"{key}_{sub}"] = x
                elif key == "cpus":
                    row[key] = list(value)
                else:
                    row[key] = value
            rows.append(row)
        frame = pd.DataFrame(rows)
        if "index" in frame:
            frame = frame.rename(columns={"index": "process"}).set_index("process")
        return frame

    # Convenience figures, all from summary.
    @property
    def throughput_tps(self) -> float:
        """Mean throughput over replications, transactions per second."""
        return self.summary["throughput_tps"]["mean"]

    @property
    def latency_ms(self) -> pd.Series:
        """Transaction latency figures in milliseconds (mean, p50, p95, p99, p999, max, mean_ci95, p99_ci95)."""
        return pd.Series(self.summary["latency_ms"], name="latency_ms")

    @property
    def imbalance(self) -> pd.Series:
        """connections_max_over_mean, load_max_over_mean and jain_index (means over replications)."""
        return pd.Series({k: v for k, v in self.summary["imbalance"].items() if k != "ci95"}, name="imbalance")

    def to_json(self, path: Optional[Union[str, "os.PathLike[str]"]] = None) -> str:
        """The results document as JSON text, formatted as ``rpsim run --json`` writes it; also written to
        `path` when given."""
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(self._json)
        return self._json

    def table(self) -> str:
        """The table ``rpsim run`` prints."""
        return self._table

    def __str__(self) -> str:
        return self._table

    def __repr__(self) -> str:
        s = self.summary
        lat = s["latency_ms"]
        return (f"<Result {self.scenario.name or '(unnamed)'!r}: {s['throughput_tps']['mean']:.1f} tps, "
                f"latency p50 {lat['p50']:.3f} ms p99 {lat['p99']:.3f} ms, "
                f"{len(s['processes'])} processes, {s['replications']} replication"
                f"{'s' if s['replications'] != 1 else ''}, seed {s['seed']}>")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the table
        p.text(repr(self) if cycle else self._table)


def run(scenario: Union[Scenario, dict, str, "os.PathLike[str]"], seed: Optional[int] = None,
        replications: Optional[int] = None, threads: int = 1, *, duration: Optional[Duration] = None,
        warmup: Optional[Duration] = None, timeseries_interval: Union[Duration, bool, None] = None) -> Result:
    """Simulates a scenario and returns its :class:`Result`.

    Parameters
    ----------
    scenario : Scenario, dict or path
        What to run. It is not modified.
    seed, replications, duration, warmup
        Override the scenario's ``run`` section exactly as ``rpsim run --seed/--replications/--duration/--warmup``
        do (the overrides appear in ``result.summary["scenario"]``). Durations are strings such as ``"30s"`` or
        seconds as numbers.
    threads : int
        Threads for the replications. The results do not depend on it. The GIL is released while simulating,
        so other Python threads keep running.
    timeseries_interval : str, float, True or None
        Record per-process time series at this interval (``"100ms"``, or seconds) without changing the
        document, as ``rpsim run --timeseries`` does; True takes the CLI's choice (duration / 200, at least
        10 ms). None keeps the scenario's own ``timeseries_interval`` (if any).

    Raises
    ------
    ScenarioError
        Bad scenario or override, with ``.path`` (a JSON pointer such as ``/run/seed``) and ``.message``.
    TypeError, ValueError
        Arguments of the wrong type or range (``threads=0``).
    """
    base = as_scenario(scenario)
    threads = check_threads(threads)
    doc = effective_doc(base, seed, replications, duration, warmup)
    effective = Scenario(json.loads(doc))
    interval_ns = 0
    if timeseries_interval is True:
        if effective._info["timeseries_interval_ns"] == 0:
            interval_ns = max(effective._info["duration_ns"] // 200, 10_000_000)
    elif timeseries_interval is not None and timeseries_interval is not False:
        interval_ns = _core.parse_duration(duration_text(timeseries_interval, "timeseries_interval"),
                                           "timeseries_interval")
        if interval_ns <= 0:
            raise scenario_error("timeseries_interval", "must be greater than 0")
    raw = _core.run(doc, threads, interval_ns)
    return Result(raw, effective)
