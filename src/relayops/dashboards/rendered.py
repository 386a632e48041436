"""Read rendered dashboard JSON: which files are dashboards, their panels, variables, uids."""

from __future__ import annotations

import json
from collections.abc import Iterator

from relayops.dashboards.render import GRAFANA_DIR


def dashboard_files(files: dict[str, str]) -> dict[str, str]:
    return {
        path: text
        for path, text in sorted(files.items())
        if path.startswith(f"{GRAFANA_DIR}/") and path.endswith(".json")
    }


def panels_of(data: dict) -> Iterator[dict]:
    for panel in data.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def variables_of(data: dict) -> dict[str, dict]:
    return {v.get("name"): v for v in (data.get("templating") or {}).get("list") or []}


def rendered_uids(files: dict[str, str]) -> dict[str, dict]:
    """uid -> dashboard JSON of every rendered dashboard that parses."""
    boards = {}
    for text in dashboard_files(files).values():
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            continue
        if data.get("uid"):
            boards[data["uid"]] = data
    return boards
