"""pgbench select-only and TPC-B-like through 2 rpool workers, in transaction and session mode."""
import re

import pytest

from pgfixture import pgbench


@pytest.fixture(scope="module")
def bench_db(pg):
    import os
    import subprocess
    env = dict(os.environ)
    subprocess.run(["pgbench", "-i", "-s", "1", "-q", "-h", pg.sock, "-p", str(pg.port), "-U", "postgres", "bench"],
                   check=True, capture_output=True, env=env)
    return pg


@pytest.mark.parametrize("mode", ["transaction", "session"])
@pytest.mark.parametrize("script", [["-S"], []], ids=["select-only", "tpcb-like"])
def test_pgbench_through_two_workers(bench_db, make_rpool, mode, script):
    rp = make_rpool(workers=2, pool_mode=mode)
    rc, out = pgbench(rp, script + ["-T", "5", "-c", "16", "-j", "2"])
    assert rc == 0, out
    failed = re.search(r"number of failed transactions: (\d+)", out)
    assert failed and int(failed.group(1)) == 0, out
    done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    assert done > 100, out
    workers = rp.admin("SHOW WORKERS")
    assert len(workers) == 2
    # The kernel's hash spreads 16 connections over both workers (all on one: probability 2^-15).
    assert all(w["logins"] > 0 for w in workers), workers
    assert sum(w["transactions"] for w in workers) >= done
