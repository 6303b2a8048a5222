"""Scenario: a validated scenario document, edited with the CLI's --set rules."""
from __future__ import annotations

import copy as _copy
import json
import math
import os
from collections.abc import Mapping
from typing import Any, Union

from . import _core
from ._core import ScenarioError

PathLike = Union[str, "os.PathLike[str]"]
_MISSING = object()


def scenario_error(path: str, message: str) -> ScenarioError:
    """A ScenarioError raised from Python, shaped like the ones the C++ library raises."""
    error = ScenarioError(f"{path}: {message}")
    error.path = path
    error.message = message
    return error


def to_json_value(value: Any, where: str) -> Any:
    """A deep copy of `value` made of plain JSON types (NumPy scalars and arrays, tuples accepted).

    Raises TypeError naming `where` for anything JSON cannot hold, and ScenarioError for NaN or infinity.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise scenario_error(where, f"must be a finite number, got {value!r}")
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: object keys must be strings, got {key!r}")
            out[key] = to_json_value(item, f"{where}/{key}" if where != "/" else f"/{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [to_json_value(item, f"{where}/{i}" if where != "/" else f"/{i}") for i, item in enumerate(value)]
    # NumPy without importing it: scalars have .item(), arrays .tolist().
    if type(value).__module__ == "numpy":
        if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
            return to_json_value(value.tolist(), where)
        if hasattr(value, "item"):
            return to_json_value(value.item(), where)
    raise TypeError(f"{where}: {type(value).__name__} is not a JSON value (use dict, list, str, int, float, bool or None)")


def dotted(path: str) -> str:
    if not isinstance(path, str):
        raise TypeError(f"a scenario path is a dotted string such as 'pooler.processes', got {type(path).__name__}")
    return path


class Scenario:
    """A scenario document, validated by the same C++ code as ``rpsim check``.

    Make one with :meth:`load`, :meth:`from_dict`, :meth:`default` or :func:`rpsim.example`; change it with
    :meth:`set` (the CLI's ``--set`` rules); run it with :func:`rpsim.run` or :func:`rpsim.sweep`. The document
    is kept as JSON, exactly as the CLI keeps its effective document, so a run echoes it under ``"scenario"``.

    >>> s = Scenario.default().set("pooler.processes", 4)
    >>> s.processes
    4
    """

    __slots__ = ("_doc", "_info")

    def __init__(self, doc: Mapping[str, Any]) -> None:
        if not isinstance(doc, Mapping):
            raise TypeError(f"a scenario is a dict (a JSON object), got {type(doc).__name__}")
        self._doc: dict[str, Any] = to_json_value(doc, "/")
        self._info: dict[str, Any] = _core.validate(json.dumps(self._doc))

    # ---- construction ----

    @classmethod
    def default(cls) -> "Scenario":
        """The embedded default scenario, the one ``rpsim run`` uses when given no file."""
        return cls(json.loads(_core.default_scenario_json()))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Scenario":
        """A scenario from a dict in the JSON format of scenarios/README.md (validated; the dict is copied)."""
        return cls(doc)

    @classmethod
    def from_json(cls, text: str) -> "Scenario":
        """A scenario from JSON text."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise scenario_error(f"<json>:{e.lineno}:{e.colno}", e.msg) from None
        if not isinstance(doc, dict):
            raise scenario_error("/", f"expected an object, got {json.dumps(doc)[:40]}")
        return cls(doc)

    @classmethod
    def load(cls, path: PathLike) -> "Scenario":
        """Reads a scenario file. As with ``rpsim run FILE``, a document without "name" takes the file's stem.

        Raises ScenarioError (path: the file, or file:line:column for malformed JSON, or a JSON pointer).
        """
        path = os.fspath(path)
        doc = json.loads(_core.load_json_file(path))
        if isinstance(doc, dict) and "name" not in doc:
            stem = path[path.rfind("/") + 1:]
            doc["name"] = stem[: stem.rfind(".")] if "." in stem else stem
        if not isinstance(doc, dict):
            raise scenario_error("/", f"expected an object, got {json.dumps(doc)[:40]}")
        return cls(doc)

    # ---- editing ----

    def set(self, path: Union[str, Mapping[str, Any]], value: Any = _MISSING) -> "Scenario":
        """Edits the scenario in place and returns it (so calls chain).

        ``s.set("pooler.processes", 4)`` sets one value; ``s.set({"pooler.processes": 8, "pooler.pinning":
        "none"})`` applies several edits in order and validates once at the end, like repeated ``--set``
        options (use it when edits are only valid together). ``s.set("pooler.processes=4")`` takes the CLI's
        text form, where the value is read as JSON if it parses and as a string otherwise. A Python value is
        always taken with its own type: ``"4"`` is a string. ``None`` removes the key.

        On error (ScenarioError, with ``.path`` the JSON pointer and ``.message``) the scenario is unchanged.
        Use ``s.copy().set(...)`` to keep the original.
        """
        if isinstance(path, Mapping):
            if value is not _MISSING:
                raise TypeError("set(mapping) takes no separate value")
            edits = list(path.items())
        elif value is _MISSING:
            text = dotted(path)
            if "=" not in text:
                raise TypeError(f"set({text!r}) needs a value: set({text!r}, value) or set('{text}=value')")
            edits = [(text, _MISSING)]
        else:
            edits = [(path, value)]
        doc_text = json.dumps(self._doc)
        for p, v in edits:
            p = dotted(p)
            if v is _MISSING:
                assignment = p
            else:
                assignment = p + "=" + json.dumps(to_json_value(v, _core.to_json_pointer(p)))
            doc_text = _core.apply_set(doc_text, assignment)
        info = _core.validate(doc_text)
        self._doc = json.loads(doc_text)
        self._info = info
        return self

    def get(self, path: str, default: Any = _MISSING) -> Any:
        """The value at a dotted path as written in the document (a copy); `default` (or KeyError) if absent.

        Only what the document says: keys left to their defaults are absent.
        """
        node: Any = self._doc
        pointer = _core.to_json_pointer(dotted(path))
        for raw in pointer.split("/")[1:]:
            seg = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and seg in node:
                node = node[seg]
            elif isinstance(node, list) and seg.isdigit() and int(seg) < len(node):
                node = node[int(seg)]
            else:
                if default is _MISSING:
                    raise KeyError(path)
                return default
        return _copy.deepcopy(node)

    def copy(self) -> "Scenario":
        """An independent copy."""
        new = Scenario.__new__(Scenario)
        new._doc = _copy.deepcopy(self._doc)
        new._info = dict(self._info)
        return new

    # ---- reading ----

    def to_dict(self) -> dict[str, Any]:
        """The document as a new dict (editing it does not change the scenario)."""
        return _copy.deepcopy(self._doc)

    def to_json(self, indent: int | None = 2) -> str:
        """The document as JSON text, loadable by ``rpsim run``."""
        return json.dumps(self._doc, indent=indent)

    def save(self, path: PathLike) -> None:
        """Writes the document to a file that ``rpsim run`` and :meth:`load` read."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json() + "\n")

    @property
    def name(self) -> str:
        return self._info["name"]

    @property
    def description(self) -> str:
        return self._info["description"]

    @property
    def processes(self) -> int:
        """Pooler processes in all (pods x processes)."""
        return self._info["processes"]

    @property
    def clients(self) -> int:
        """Clients over all groups."""
        return self._info["clients"]

    @property
    def seed(self) -> int:
        return self._info["seed"]

    @property
    def replications(self) -> int:
        return self._info["replications"]

    @property
    def duration_s(self) -> float:
        """Measured simulated time, after the warm-up, in seconds."""
        return self._info["duration_ns"] / 1e9

    @property
    def warmup_s(self) -> float:
        return self._info["warmup_ns"] / 1e9

    def _doc_text(self) -> str:
        return json.dumps(self._doc)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self._doc == other._doc

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __getstate__(self) -> dict[str, Any]:
        return {"doc": self._doc, "info": self._info}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._doc = state["doc"]
        self._info = state["info"]

    def __repr__(self) -> str:
        name = self.name or "(unnamed)"
        return (f"<Scenario {name!r}: {self.processes} process{'es' if self.processes != 1 else ''}, "
                f"{self.clients} clients, {self.duration_s:g} s after {self.warmup_s:g} s warm-up, "
                f"seed {self.seed}, {self.replications} replication{'s' if self.replications != 1 else ''}>")


def as_scenario(scenario: Any) -> Scenario:
    """Accepts a Scenario, a dict, or a path to a scenario file."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        return Scenario.from_dict(scenario)
    if isinstance(scenario, (str, os.PathLike)):
        return Scenario.load(scenario)
    raise TypeError(f"expected a Scenario, a dict or a path to a scenario file, got {type(scenario).__name__}")
