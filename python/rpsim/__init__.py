"""rpsim: a discrete-event simulator of SO_REUSEPORT connection pooling, from Python.

>>> import rpsim
>>> s = rpsim.Scenario.default().set("pooler.processes", 4)
>>> r = rpsim.run(s, seed=7, replications=3, threads=2)
>>> r.summary["throughput_tps"]["mean"], r.processes[["client_connections_mean", "utilization"]]
>>> grid = rpsim.sweep(s, {"pooler.processes": [1, 2, 4]}, replications=3)

The scenario format is the CLI's (scenarios/README.md); errors are ScenarioError with the JSON pointer in .path.
"""
from __future__ import annotations

import os
from pathlib import Path

from . import analytic
from ._core import ScenarioError
from ._run import Result, run
from ._scenario import Scenario
from ._sweep import sweep

__all__ = ["Scenario", "ScenarioError", "Result", "run", "sweep", "example", "examples", "analytic"]
__version__ = "0.1.0"

_EXAMPLES = Path(__file__).resolve().parent / "examples"


def examples() -> list[str]:
    """Names of the example scenarios shipped with the package (scenarios/examples/*.json)."""
    return sorted(p.stem for p in _EXAMPLES.glob("*.json"))


def example(name: str) -> Scenario:
    """An example scenario by name, e.g. ``rpsim.example("rolling_restart")``."""
    path = _EXAMPLES / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no example named {name!r}; examples are {', '.join(examples())}")
    return Scenario.load(os.fspath(path))
