"""The record of a running stack (`stack.json` in the state folder) and its Python view."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from relayops.stack.daemons import Running

STATE_FILE = "stack.json"
WEBHOOK_PATH = "/notify"


@dataclass(frozen=True)
class Component:
    """One started process: where it answers and how to recognise its PID later."""

    name: str
    url: str
    port: int
    pid: int
    identity: str
    log: Path

    @property
    def running(self) -> Running:
        return Running(self.pid, self.identity)


@dataclass(frozen=True)
class Stack:
    """A running local stack. Components are kept in start order."""

    state_dir: Path
    rendered: Path
    started_at: float
    components: dict[str, Component]

    @property
    def prometheus_url(self) -> str:
        return self.components["prometheus"].url

    @property
    def alertmanager_url(self) -> str:
        return self.components["alertmanager"].url

    @property
    def pushgateway_url(self) -> str:
        return self.components["pushgateway"].url

    @property
    def redis_url(self) -> str:
        return self.components["redis"].url

    @property
    def sink_url(self) -> str:
        return self.components["sink"].url

    @property
    def webhook_url(self) -> str:
        """Where Alertmanager posts every notification."""
        return self.sink_url + WEBHOOK_PATH

    @property
    def sink_log(self) -> Path:
        return self.state_dir / "sink" / "notifications.jsonl"

    @property
    def pids(self) -> dict[str, int]:
        return {name: c.pid for name, c in self.components.items()}


def save(stack: Stack) -> None:
    """Write stack.json atomically, so a reader never sees half a record."""
    data = {
        "rendered": str(stack.rendered),
        "started_at": stack.started_at,
        "components": [
            {
                "name": c.name,
                "url": c.url,
                "port": c.port,
                "pid": c.pid,
                "identity": c.identity,
                "log": str(c.log),
            }
            for c in stack.components.values()
        ],
    }
    target = stack.state_dir / STATE_FILE
    staged = target.with_suffix(".json.tmp")
    staged.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(staged, target)


def load(state_dir: Path) -> Stack | None:
    """The stack recorded in state_dir, or None when nothing is recorded there."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    components = {
        entry["name"]: Component(
            name=entry["name"],
            url=entry["url"],
            port=entry["port"],
            pid=entry["pid"],
            identity=entry["identity"],
            log=Path(entry["log"]),
        )
        for entry in data["components"]
    }
    return Stack(Path(state_dir), Path(data["rendered"]), data["started_at"], components)
