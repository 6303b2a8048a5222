"""sweep(): a grid of scenario variations, on this machine or spread over a Dask cluster."""
from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

import pandas as pd

from . import _core
from ._run import Duration, check_threads, effective_doc
from ._scenario import Scenario, dotted, to_json_value


def _axes(grid: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    if not isinstance(grid, Mapping) or not grid:
        raise TypeError("grid must be a non-empty dict {dotted path: [values, ...]}, "
                        "e.g. {'pooler.processes': [1, 2, 4]}")
    axes = []
    for path, values in grid.items():
        path = dotted(path)
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Sequence, range)) and \
                not hasattr(values, "tolist"):
            raise TypeError(f"grid[{path!r}] must be a list of values, got {type(values).__name__}")
        values = to_json_value(list(values.tolist() if hasattr(values, "tolist") else values),
                               _core.to_json_pointer(path))
        if not values:
            raise ValueError(f"grid[{path!r}] is empty")
        axes.append((path, [json.dumps(v) for v in values]))
    return axes


def _point_docs(doc: str, axes: list[tuple[str, list[str]]]) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Every grid point (first axis slowest, as run_sweep orders them), validated before anything runs: a bad
    combination fails in milliseconds rather than after hours of running the points before it."""
    points = []
    for combo in itertools.product(*[values for _, values in axes]):
        d = doc
        for (path, _), value in zip(axes, combo):
            d = _core.apply_set(d, f"{path}={value}")
        _core.validate(d)
        points.append((doc, [(path, [value]) for (path, _), value in zip(axes, combo)]))
    return points


def _run_point(doc: str, axes: list[tuple[str, list[str]]], threads: int) -> dict[str, Any]:
    """One grid point: run_sweep over one-value axes gives the very row the whole grid gives for that point."""
    from rpsim import _core as core  # imported on the worker
    return json.loads(core.sweep(doc, axes, threads))[0]


def sweep(scenario: Union[Scenario, dict, str, "os.PathLike[str]"], grid: Mapping[str, Sequence[Any]], *,
          replications: Optional[int] = None, seed: Optional[int] = None, threads: int = 1,
          duration: Optional[Duration] = None, warmup: Optional[Duration] = None,
          client: Any = None) -> pd.DataFrame:
    """Runs every combination of `grid` and returns a tidy DataFrame, one row per point.

    Parameters
    ----------
    scenario : Scenario, dict or path
        The base scenario.
    grid : dict
        ``{dotted path: [values]}``, e.g. ``{"pooler.processes": [1, 2, 4, 8], "pooler.pool_size": [5, 10]}``.
        Values are set with :meth:`Scenario.set`'s rules; the first axis varies slowest.
    replications, seed, duration, warmup
        Overrides of the base scenario's run section, as for :func:`run`. Every point uses the same seed
        (common random numbers), so differences between points come from what varies.
    threads : int
        Threads for each point's replications; the results do not depend on it.
    client : dask.distributed.Client, optional
        Spread the points over a Dask cluster, one task per point. The rows equal the local sweep's for the same
        seed. Workers must be able to ``import rpsim`` (same build, on their PYTHONPATH).

    Returns
    -------
    pandas.DataFrame
        The axis columns (named by their dotted paths), then the figures of ``rpsim sweep`` in its order:
        ``throughput_tps`` with ``throughput_ci95``, ``latency_mean_ms`` with ``latency_mean_ci95``,
        ``latency_p99_ms`` with ``latency_p99_ci95`` (95% Student t half-widths over replications; 0 with one
        replication), latency quantiles, imbalance, busiest process, server connections, Postgres and errors.
        ``df.attrs["scenario"]`` holds the base document and ``df.attrs["axes"]`` the axis paths.
    """
    threads = check_threads(threads)
    axes = _axes(grid)
    doc = effective_doc(scenario, seed, replications, duration, warmup)
    points = _point_docs(doc, axes)
    if client is None:
        rows = json.loads(_core.sweep(doc, axes, threads))
    else:
        futures = client.map(_run_point, [d for d, _ in points], [a for _, a in points],
                             [threads] * len(points), pure=False)
        rows = client.gather(futures)
    columns = [path for path, _ in axes] + list(_core.sweep_columns())
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
    frame.attrs["scenario"] = json.loads(doc)
    frame.attrs["axes"] = [path for path, _ in axes]
    return frame
