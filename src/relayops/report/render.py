"""The observation report: Markdown with the verdict, the live points, the static checks, the
critical alerts firing or pending, and PNG plots.

Plots are drawn on matplotlib's Agg canvas without pyplot; x axes are minutes before the end
of the window, and a curve without samples is written as "no data" on its plot.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from relayops.drill.observe import Samples
from relayops.report.live import NO_DATA
from relayops.report.model import GO_MIN_LIVE, Observation, Point
from relayops.spec.durations import format_duration

REPORT_NAME = "observation.md"
FIGSIZE = (9.0, 3.5)
DPI = 100


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def plot(path: Path, title: str, curves: dict[str, Samples], end: float, since_s: int) -> Path:
    # matplotlib takes 0.4 s to import: only commands that plot pay for it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    empty = [label for label, samples in curves.items() if not samples]
    for label, samples in curves.items():
        if samples:
            ax.plot([(t - end) / 60 for t, _ in samples], [v for _, v in samples], label=label)
    if empty:
        ax.text(0.5, 0.5, f"{NO_DATA}: {', '.join(empty)}", transform=ax.transAxes, ha="center")
    ax.set_xlim(-since_s / 60, 0)
    if len(empty) < len(curves):
        ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title)
    ax.set_xlabel("minutes before the end of the window")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _result(point: Point) -> str:
    return {True: "pass", False: "FAIL", None: "NO DATA"}[point.passed]


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(points: tuple[Point, ...]) -> list[str]:
    return [
        "| # | Point | Result | Measured | Threshold |",
        "|---|---|---|---|---|",
        *(
            f"| {i} | {p.name} | {_result(p)} | {p.measured} | {p.threshold} |"
            for i, p in enumerate(points, 1)
        ),
    ]


def markdown(observation: Observation, prometheus_url: str, images: list[str]) -> str:
    o = observation
    verdict = "GO" if o.go else "NO-GO"
    firing = [f"- `{name}`" for name in o.critical_firing] or ["None."]
    pending = [f"- `{name}`" for name in o.critical_pending] or ["None."]
    static = sum(p.passed is True for p in o.static)
    return "\n".join(
        [
            f"# Observation report: {verdict}",
            "",
            f"Prometheus {prometheus_url}, window {format_duration(o.since_s)} from "
            f"{_utc(o.start)} to {_utc(o.end)}. GO needs at least {GO_MIN_LIVE}/{len(o.live)} "
            "live points, every static check, and no critical alert firing or pending (a "
            "pending critical is an incident starting); a point without data fails.",
            "",
            f"## Live score: {o.score}/{len(o.live)}",
            "",
            *_table(o.live),
            "",
            f"## Static checks: {static}/{len(o.static)}",
            "",
            *_table(o.static),
            "",
            "## Critical alerts firing at the end of the window",
            "",
            *firing,
            "",
            "## Critical alerts pending at the end of the window",
            "",
            *pending,
            "",
            "## Plots",
            "",
            *[line for image in images for line in (image, "")],
        ]
    )


def write_report(observation: Observation, prometheus_url: str, out_dir: Path) -> Path:
    """Write observation.md and one PNG per plotted quantity into out_dir; return the .md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = []
    for title, curves in observation.curves.items():
        path = plot(
            out_dir / f"observation-{_slug(title)}.png",
            title,
            curves,
            observation.end,
            observation.since_s,
        )
        images.append(f"![{title}]({path.name})")
    report = out_dir / REPORT_NAME
    report.write_text(markdown(observation, prometheus_url, images), encoding="utf-8")
    return report
