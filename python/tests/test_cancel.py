"""Ctrl-C stops a long run: the run polls for signals and raises KeyboardInterrupt within about a second."""
import os
import signal
import threading
import time

import pytest

import rpsim


def test_sigint_interrupts_a_long_run():
    # A run of about a minute of wall time (an hour simulated); SIGINT after 0.5 s must end it in well under 10 s.
    scenario = rpsim.Scenario.default().set("run.duration", "3600s")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        rpsim.run(scenario, replications=2, threads=2)
    elapsed = time.monotonic() - start
    timer.cancel()
    assert elapsed < 10, elapsed


def test_a_run_after_an_interrupt_is_unaffected():
    # The flag is per run: a normal run afterwards completes and equals a fresh one.
    scenario = rpsim.Scenario.default().set("run.duration", "1s")
    a = rpsim.run(scenario, seed=3).summary
    b = rpsim.run(scenario, seed=3).summary
    assert a["throughput_tps"] == b["throughput_tps"]
