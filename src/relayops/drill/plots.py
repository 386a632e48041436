"""PNG plots of a drill, drawn on matplotlib's Agg canvas at a fixed size and resolution.

Figures are built without pyplot, so no global figure state or interactive backend is involved.

Times on every x axis are seconds since the scenario started. A curve without samples is
written as "no data" on the plot rather than left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from relayops.drill.run import Timeline

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Points = Sequence[tuple[float, float]]

FIGSIZE = (9.0, 4.5)
DPI = 100
FAULT_COLOUR = "#f4cccc"
STATUS_COLOURS = {"firing": "#cc0000", "resolved": "#38761d"}


@dataclass(frozen=True)
class Window:
    """The fault window and the end of the run, in seconds since the scenario started."""

    fault_start: float
    fault_end: float
    run_end: float


def _figure(height: float = FIGSIZE[1]) -> Figure:
    # matplotlib takes 0.4 s to import: only commands that plot pay for it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(FIGSIZE[0], height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _curves(ax: Axes, curves: Mapping[str, Points], window: Window) -> list[str]:
    """Draw each curve; return the labels of those without data."""
    ax.axvspan(window.fault_start, window.fault_end, color=FAULT_COLOUR, label="fault")
    empty = []
    for label, points in curves.items():
        if points:
            ax.plot([t for t, _ in points], [v for _, v in points], label=label)
        else:
            empty.append(label)
    if empty:
        ax.text(
            0.5,
            0.5,
            "no data: " + ", ".join(empty),
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    ax.set_xlim(0, window.run_end)
    ax.legend(loc="upper right", fontsize="small")
    return empty


@dataclass(frozen=True)
class Panel:
    """One quantity an alert watches, with the alert's levels drawn as dashed lines."""

    title: str
    curves: Mapping[str, Points]
    levels: Mapping[str, float]


def plot_signal(
    path: Path, rate: Mapping[str, Points], panels: Sequence[Panel], window: Window
) -> Path:
    """The request rate, then each watched quantity against its levels; the fault shaded."""
    fig = _figure(FIGSIZE[1] / 2 * (1 + len(panels)))
    axes = fig.subplots(1 + len(panels), 1, sharex=True, squeeze=False)[:, 0]
    _curves(axes[0], rate, window)
    axes[0].set_ylabel("requests/s")
    axes[0].set_title("Injected signal")
    for index, (ax, panel) in enumerate(zip(axes[1:], panels, strict=True)):
        _curves(ax, panel.curves, window)
        for offset, (name, level) in enumerate(sorted(panel.levels.items(), key=lambda i: i[1])):
            ax.axhline(
                level, linestyle="--", color=f"C{index + offset + 1}", label=f"{name} {level:g}"
            )
        ax.legend(loc="upper right", fontsize="small")
        ax.set_ylabel(panel.title, fontsize="small")
    axes[-1].set_xlabel("seconds since the scenario started")
    return _save(fig, path)


def plot_burn(
    path: Path,
    title: str,
    burns: Mapping[str, Points],
    factors: Mapping[str, float],
    window: Window,
) -> Path:
    """Burn rates (error ratio / error budget) against each tier's factor."""
    fig = _figure()
    ax = fig.subplots()
    _curves(ax, burns, window)
    for index, (tier, factor) in enumerate(sorted(factors.items())):
        ax.axhline(
            factor, linestyle="--", color=f"C{index + len(burns)}", label=f"{tier} ×{factor:g}"
        )
    ax.legend(loc="upper right", fontsize="small")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.set_ylabel("burn rate (× budget, log above 1)")
    ax.set_xlabel("seconds since the scenario started")
    return _save(fig, path)


def _refs(timeline: Timeline) -> list[str]:
    seen = {*timeline.pending, *timeline.firing, *timeline.resolved, *timeline.suppressed}
    return sorted(seen | {ref for ref, _, _ in timeline.notified})


def plot_timeline(path: Path, timeline: Timeline, window: Window) -> Path:
    """One row per alert: pending, then firing until resolved; notification ticks on top."""
    refs = _refs(timeline)
    fig = _figure(max(2.0, 0.5 * len(refs) + 1.2))
    ax = fig.subplots()
    ax.axvspan(window.fault_start, window.fault_end, color=FAULT_COLOUR, label="fault")
    for row, ref in enumerate(refs):
        firing = timeline.firing.get(ref)
        if ref in timeline.pending:
            start = timeline.pending[ref]
            ax.barh(
                row, (firing or window.run_end) - start, left=start, color="#f1c232", height=0.5
            )
        if firing is not None:
            end = timeline.resolved.get(ref, window.run_end)
            ax.barh(row, end - firing, left=firing, color="#cc0000", height=0.5)
        if ref in timeline.suppressed:
            ax.plot(timeline.suppressed[ref], row, marker="x", color="black", markersize=9)
    for (ref, status, _), seconds in sorted(timeline.notified.items()):
        colour = STATUS_COLOURS.get(status, "black")
        ax.plot(seconds, refs.index(ref) + 0.35, marker="v", color=colour, markersize=8)
    if not refs:
        ax.text(0.5, 0.5, "no data: no alert seen", transform=ax.transAxes, ha="center")
    ax.set_yticks(range(len(refs)), refs, fontsize="small")
    ax.set_ylim(max(len(refs), 1) - 0.3, -0.7)
    ax.set_xlim(0, window.run_end)
    ax.set_xlabel("seconds since the scenario started")
    ax.set_title(
        "Alert timeline: pending (yellow), firing (red), inhibited (x), "
        "notified (▼ red firing, green resolved)",
        fontsize="small",
    )
    return _save(fig, path)
