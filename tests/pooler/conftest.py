"""pytest fixtures for the rpool integration tests: one Postgres per test module, one rpool per test."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgfixture import PgServer, Pooler  # noqa: E402


@pytest.fixture(scope="module")
def pg():
    server = PgServer()
    try:
        server.start()
        server.sql("CREATE DATABASE bench")
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def make_rpool(pg):
    """make_rpool(workers=2, pool_mode='transaction', settings={...}) -> a started Pooler (start=False: only
    configured), stopped after the test."""
    started = []

    def factory(start=True, **kw):
        p = Pooler(pg, **kw)
        started.append(p)
        return p.start() if start else p

    yield factory
    for p in started:
        p.cleanup()
