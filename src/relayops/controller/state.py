"""The rollout state in Redis: compare-and-set writes, the run lock, the audit trail.

`flags:<provider>:rollout_percent` is what the gate reads; the state hash holds what the policy
needs. A write only lands if neither key changed since it was read (WATCH/MULTI), so a manual
`set-percent` during a run is never overwritten. A value that does not parse is reported with
its key and treated by the caller as a reason to hold.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict

import redis
from redis.exceptions import LockError, WatchError

from relayops.controller.keys import AUDIT_STREAM, RolloutKeys
from relayops.controller.policy import RolloutState

HISTORY_LENGTH = 100
AUDIT_LENGTH = 10_000
_PERCENT = re.compile(r"(100|[0-9]{1,2})(\.[0-9]{1,2})?")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?")  # ASCII only: no "²", no "nan"
_COUNT = re.compile(r"[0-9]{1,9}")
REPAIR = (
    "repair it with `relayops controller set-percent <percent> --reason …` (or `pause`), which "
    "rewrites every field"
)
_FIELDS = ("last_change_at", "previous_percent", "last_rollback_at")


class CorruptState(RuntimeError):
    """A stored value does not parse; the message names the key, the field and the value."""


class MissingState(CorruptState):
    """No state hash: the rollout was never started here, or Redis lost its data. Held until
    a person confirms with a manual command, which writes every field."""


class StateChanged(RuntimeError):
    """Someone else wrote the state between our read and our write."""


class LockHeld(RuntimeError):
    """Another run holds the provider's lock."""


def format_percent(percent: float) -> str:
    """25 -> "25", 2.5 -> "2.5": at most two decimals, as the gate reads it."""
    return f"{percent:.2f}".rstrip("0").rstrip(".")


def parse_percent(text: str, where: str) -> float:
    if not _PERCENT.fullmatch(text) or float(text) > 100:
        raise CorruptState(
            f"{where} holds {text!r}, not a percentage 0-100 with at most two decimals; {REPAIR}"
        )
    return float(text)


Snapshot = tuple[bytes | None, dict[bytes, bytes]]
"""The percent key and the state hash exactly as stored."""


def _number(text: str | None, where: str) -> float | None:
    """A stored timestamp or percentage: empty for none, else a finite decimal number."""
    if text in (None, ""):
        return None
    if not _NUMBER.fullmatch(text) or not math.isfinite(float(text)):
        raise CorruptState(f"{where} holds {text!r}, not a finite number; {REPAIR}")
    return float(text)


class RolloutStore:
    def __init__(self, client: redis.Redis, provider: str):
        self.client = client
        self.provider = provider
        self.keys = RolloutKeys(provider)

    def _decode(self, raw_percent: bytes | None, raw_state: dict[bytes, bytes]) -> RolloutState:
        percent = 0.0
        if raw_percent is not None:
            percent = parse_percent(raw_percent.decode(errors="replace"), self.keys.percent)
        fields = {k.decode(): v.decode(errors="replace") for k, v in raw_state.items()}
        values = {
            name: _number(fields.get(name), f"{self.keys.state} field {name}") for name in _FIELDS
        }
        paused = fields.get("paused", "0")
        if paused not in ("0", "1"):
            raise CorruptState(
                f"{self.keys.state} field paused holds {paused!r}, not 0 or 1; {REPAIR}"
            )
        errors = fields.get("consecutive_errors", "0")
        if not _COUNT.fullmatch(errors):
            raise CorruptState(
                f"{self.keys.state} field consecutive_errors holds {errors!r}, not a count; "
                f"{REPAIR}"
            )
        return RolloutState(
            percent=percent,
            last_change_at=values["last_change_at"],
            previous_percent=values["previous_percent"],
            last_rollback_at=values["last_rollback_at"],
            paused=paused == "1",
            consecutive_errors=int(errors),
        )

    def snapshot(self) -> Snapshot:
        return self.client.get(self.keys.percent), self.client.hgetall(self.keys.state)

    def read_for_repair(self, now: float) -> tuple[RolloutState, tuple[str, ...], Snapshot]:
        """The state with every value that does not parse replaced by its safe one, what was
        replaced, and the snapshot it came from (for `overwrite`). Safe means closed and slow:
        a corrupt percentage reads 0% (the gate closes), corrupt change and rollback times
        read `now` (the dwell and the cooldown start again), a corrupt pause flag reads
        paused, a corrupt count 0, a corrupt previous percentage none."""
        snapshot = self.snapshot()
        raw_percent, raw_state = snapshot
        problems: list[str] = []
        if not raw_state:
            problems.append(f"{self.keys.state} did not exist (confirmed by hand)")

        def field(name: bytes, safe: bytes | None) -> dict[bytes, bytes]:
            value = raw_state.get(name)
            try:
                self._decode(None, {} if value is None else {name: value})
            except CorruptState as exc:
                problems.append(str(exc).split(";")[0])
                return {} if safe is None else {name: safe}
            return {} if value is None else {name: value}

        percent = raw_percent
        try:
            self._decode(raw_percent, {})
        except CorruptState as exc:
            problems.append(str(exc).split(";")[0])
            percent = b"0"
        moment = repr(now).encode()
        repaired: dict[bytes, bytes] = {}
        for name, safe in (
            (b"last_change_at", moment),
            (b"last_rollback_at", moment),
            (b"previous_percent", None),
            (b"paused", b"1"),
            (b"consecutive_errors", b"0"),
        ):
            repaired |= field(name, safe)
        return self._decode(percent, repaired), tuple(problems), snapshot

    def overwrite(self, snapshot: Snapshot, new: RolloutState) -> None:
        """Store `new` if the stored bytes are still `snapshot` (a repair of state that does
        not parse, so it cannot be compared as a RolloutState); else StateChanged."""
        with self.client.pipeline() as pipe:
            try:
                pipe.watch(self.keys.percent, self.keys.state)
                if (pipe.get(self.keys.percent), pipe.hgetall(self.keys.state)) != snapshot:
                    raise StateChanged(
                        f"{self.keys.state} changed during the repair; nothing written"
                    )
                pipe.multi()
                self._put(pipe, new)
                pipe.execute()
            except WatchError as exc:
                raise StateChanged(
                    f"{self.keys.state} changed during the repair; nothing written"
                ) from exc

    def _put(self, pipe: redis.client.Pipeline, new: RolloutState) -> None:
        pipe.set(self.keys.percent, format_percent(new.percent))
        pipe.delete(self.keys.state)
        pipe.hset(self.keys.state, mapping=_fields(new))

    def read(self) -> RolloutState:
        """The stored state; CorruptState when a value does not parse, MissingState when there
        is no state hash."""
        raw_percent, raw_state = self.snapshot()
        if not raw_state:
            raise MissingState(self._missing(raw_percent))
        return self._decode(raw_percent, raw_state)

    def _missing(self, raw_percent: bytes | None) -> str:
        gate = "0%" if raw_percent is None else f"{raw_percent.decode(errors='replace')!r}"
        return (
            f"{self.keys.state} does not exist: the rollout was never started here, or Redis "
            "lost its data (a restart without persistence, a failover to an empty replica); the "
            f"gate reads {gate} meanwhile. Nothing moves until a person confirms with "
            f"`relayops controller set-percent {self.provider} <percent> --reason …` (or "
            "`pause`), which starts or restores the rollout"
        )

    def write(
        self,
        expected: RolloutState,
        new: RolloutState,
        audit: dict | None = None,
        changed: bool = False,
    ) -> None:
        """Store `new` if the stored state is still `expected`; else StateChanged. With
        `audit`, its entry (and, when `changed`, its history line) goes into the same
        transaction: a step is never stored without its audit record, nor the record without
        the step."""
        with self.client.pipeline() as pipe:
            try:
                pipe.watch(self.keys.percent, self.keys.state)
                current = self._decode(pipe.get(self.keys.percent), pipe.hgetall(self.keys.state))
                if current != expected:
                    raise StateChanged(
                        f"{self.keys.percent} changed during the run "
                        f"({format_percent(expected.percent)} -> "
                        f"{format_percent(current.percent)}); nothing written"
                    )
                pipe.multi()
                self._put(pipe, new)
                if audit is not None:
                    self._audit_into(pipe, audit, changed)
                pipe.execute()
            except WatchError as exc:
                raise StateChanged(
                    f"{self.keys.percent} changed during the run; nothing written"
                ) from exc

    @contextmanager
    def locked(self, seconds: int) -> Iterator[None]:
        """The run lock (`SET NX EX` with a token; released only by its holder)."""
        lock = self.client.lock(self.keys.lock, timeout=seconds, blocking=False)
        if not lock.acquire():
            raise LockHeld(f"{self.keys.lock} is held by another run")
        try:
            yield
        finally:
            with suppress(LockError):  # expired while we ran: the next holder owns it now
                lock.release()

    def audit(self, entry: dict, changed: bool) -> None:
        """Append to the audit stream, and to the history when something changed."""
        with self.client.pipeline(transaction=True) as pipe:
            self._audit_into(pipe, entry, changed)
            pipe.execute()

    def _audit_into(self, pipe: redis.client.Pipeline, entry: dict, changed: bool) -> None:
        text = json.dumps(entry, sort_keys=True)
        pipe.xadd(
            AUDIT_STREAM,
            {"provider": self.provider, "entry": text},
            maxlen=AUDIT_LENGTH,
            approximate=True,
        )
        if changed:
            pipe.lpush(self.keys.history, text)
            pipe.ltrim(self.keys.history, 0, HISTORY_LENGTH - 1)

    def count(self, *fields: str) -> dict[str, int]:
        """Add one to each telemetry total; return every total."""
        with self.client.pipeline(transaction=True) as pipe:
            for name in fields:
                pipe.hincrby(self.keys.counters, name, 1)
            pipe.hgetall(self.keys.counters)
            *_, totals = pipe.execute()
        return {k.decode(): int(v) for k, v in totals.items()}

    def history(self, limit: int) -> list[dict]:
        """The newest audit entries of this provider, newest first."""
        entries = []
        last = "+"
        while len(entries) < limit:
            batch = self.client.xrevrange(AUDIT_STREAM, max=last, count=500)
            if not batch:
                break
            for _, fields in batch:
                if fields.get(b"provider", b"").decode() == self.provider:
                    entries.append(json.loads(fields[b"entry"]))
                    if len(entries) == limit:
                        break
            last = "(" + batch[-1][0].decode()
        return entries


def _fields(state: RolloutState) -> dict[str, str]:
    values = asdict(state)
    out = {"paused": "1" if state.paused else "0"}
    out["consecutive_errors"] = str(state.consecutive_errors)
    for name in _FIELDS:
        out[name] = "" if values[name] is None else repr(values[name])
    return out
