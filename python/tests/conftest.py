"""Where the built package and the CLI are; skips nothing silently: a missing build is an error."""
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("RPSIM_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "../..")))
BUILD_DIR = os.environ.get("RPSIM_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
RPSIM = os.environ.get("RPSIM", os.path.join(BUILD_DIR, "rpsim"))
EXAMPLES = os.path.join(SOURCE_DIR, "scenarios", "examples")

# Running pytest by hand without PYTHONPATH: take the package from the build directory.
if importlib.util.find_spec("rpsim") is None:
    sys.path.insert(0, os.path.join(BUILD_DIR, "python"))


def cli(*args, timeout=300):
    return subprocess.run([RPSIM, *args], capture_output=True, text=True, timeout=timeout)


def cli_results(*args):
    proc = cli("run", *args, "--json", "-", "--quiet")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def deterministic(doc):
    """The results document without its two wall-clock fields."""
    doc = json.loads(json.dumps(doc))
    del doc["engine"]["wall_s"]
    del doc["engine"]["events_per_s"]
    return doc
