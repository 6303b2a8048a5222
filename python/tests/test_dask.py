"""Sweeps spread over a Dask cluster give the local sweep's rows for the same seed."""
import pandas as pd
import pytest

import rpsim

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    # Threads in this process: starts in well under a second, and the GIL is released while simulating.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_dask_sweep_equals_the_local_sweep(client):
    s = rpsim.example("pool_exhaustion")
    grid = {"pooler.processes": [1, 2, 4], "pooler.pool_size": [2, 3]}
    kwargs = dict(replications=2, seed=21, duration="2s", warmup="0.5s")
    local = rpsim.sweep(s, grid, **kwargs)
    spread = rpsim.sweep(s, grid, client=client, **kwargs)
    pd.testing.assert_frame_equal(spread, local)
    assert len(client.scheduler_info()["workers"]) == 2


def test_dask_sweep_raises_bad_points_before_submitting(client):
    with pytest.raises(rpsim.ScenarioError):
        rpsim.sweep(rpsim.Scenario.default(), {"pooler.processes": [0]}, client=client)


def test_dask_sweep_with_worker_processes():
    # Separate worker processes import rpsim from PYTHONPATH, as workers on other machines would.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        with distributed.Client(cluster) as c:
            s = rpsim.Scenario.default()
            grid = {"pooler.processes": [1, 2], "clients.0.count": [20, 40]}
            kwargs = dict(duration="1s", warmup="0.2s", seed=4)
            pd.testing.assert_frame_equal(rpsim.sweep(s, grid, client=c, **kwargs), rpsim.sweep(s, grid, **kwargs))
    finally:
        cluster.close()
