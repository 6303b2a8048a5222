"""Shared helpers for the CLI tests: where the binary is, and running it."""
import json
import os
import subprocess

import pytest

RPSIM = os.environ.get("RPSIM", os.path.join(os.path.dirname(__file__), "../../build/rpsim"))
SOURCE_DIR = os.environ.get("RPSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))


def rpsim(*args, timeout=300):
    return subprocess.run([RPSIM, *args], capture_output=True, text=True, timeout=timeout)


def results(*args):
    proc = rpsim("run", *args, "--json", "-", "--quiet")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
