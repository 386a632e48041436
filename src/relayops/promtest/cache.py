"""Simulated scenarios kept between runs, so that rendering specs that did not change does not
simulate their promtool tests again (the simulation is almost all of `relayops render`'s time).

An entry is keyed by everything its simulation reads: the source of the simulator and of this
package, the rules the scenario keeps, its input series, step, expectations and the alert it
tests. Change any of them and the key changes; an entry is only ever written for a scenario
whose expectations held. Entries live in `$RELAYOPS_CACHE_DIR` (default
`$XDG_CACHE_HOME/relayops/simulations`, else `~/.cache/relayops/simulations`); an empty
`RELAYOPS_CACHE_DIR` turns the cache off. Entries unused for `KEEP_DAYS` are removed; a
damaged or unreadable entry is simulated again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import TypeVar

import relayops.promql
import relayops.promtest
from relayops.spec.env import CACHE_DIR, XDG_CACHE_HOME

KEEP_DAYS = 30
T = TypeVar("T")


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where entries are kept, or None when the cache is off."""
    if CACHE_DIR in environ:
        chosen = environ[CACHE_DIR]
        return Path(chosen) if chosen else None
    base = environ.get(XDG_CACHE_HOME) or str(Path.home() / ".cache")
    return Path(base) / "relayops" / "simulations"


@cache
def simulator_digest() -> str:
    """A digest of the simulator's and the test generator's source."""
    digest = hashlib.sha256()
    for package in (relayops.promql, relayops.promtest):
        folder = Path(package.__file__).parent
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def key_of(*parts: object) -> str:
    """The entry key of a simulation whose inputs are `parts` (JSON-serialisable)."""
    text = json.dumps([simulator_digest(), *parts], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


class SimulationCache:
    """Entries of one folder (none at all when `folder` is None)."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str, decode: Callable[[object], T]) -> T | None:
        """The entry, as `decode` makes it of the stored JSON; None if missing, unreadable, or
        damaged (`decode` raising ValueError, KeyError, TypeError or AttributeError)."""
        if self.folder is None:
            return None
        path = self._path(key)
        try:
            entry = decode(json.loads(path.read_text()))
            os.utime(path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return entry

    def put(self, key: str, data: object) -> None:
        """Store an entry (JSON-serialisable); a cache that cannot be written is skipped,
        never an error."""
        if self.folder is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(data, out)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)

    def prune(self, now: float | None = None) -> int:
        """Remove entries unused for KEEP_DAYS; how many were removed."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        cutoff = (now or time.time()) - KEEP_DAYS * 86400
        removed = 0
        for path in self.folder.glob("*/*.json"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed
