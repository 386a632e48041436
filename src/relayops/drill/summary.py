"""`drill-summary.md`: every drill of a `drill all` run on one page.

It answers what the run must show: each drill's verdict and wall time, every expected alert's
measured detection beside theory, the notifications and pages per receiver, and which
receivers the low-traffic drill reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from relayops.alertmanager.receivers import receiver_name
from relayops.drill.parallel import Outcome
from relayops.drill.run import detection, page_tally
from relayops.spec import SpecSet
from relayops.spec.labels import PAGING_SEVERITY

SUMMARY_FILE = "drill-summary.md"
LOW_TRAFFIC = "low-traffic-noise"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(header)
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _verdict(outcome: Outcome) -> str:
    if outcome.result is None:
        return f"ERROR: {outcome.error}"
    failed = [c.name for c in outcome.result.checks if not c.ok]
    return "pass" if not failed else "FAIL: " + "; ".join(failed)


def _drill_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        report = f"[report]({o.report.name})" if o.report is not None else "—"
        expected = ", ".join(f"`{e.ref}`" for e in o.plan.fires) or "none"
        rows.append([f"{o.name}", _verdict(o), f"{o.seconds:.0f}s", expected, report])
    return rows


def _detection_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        if o.result is None:
            continue
        plan = o.plan
        for e in plan.fires:
            measured, theory = detection(plan, o.result.phases, o.result.timeline, e)
            if measured is None:
                rows.append([o.name, f"`{e.ref}`", f"{theory:.1f}s", "never fired", "—", "FAIL"])
                continue
            gap = measured - theory
            ok = "ok" if abs(gap) <= plan.allowed(e.ref) else "FAIL"
            rows.append(
                [
                    o.name,
                    f"`{e.ref}`",
                    f"{theory:.1f}s",
                    f"{measured:.1f}s",
                    f"{gap:+.1f}s (±{plan.allowed(e.ref):g}s)",
                    ok,
                ]
            )
    return rows


def _low_traffic_lines(specs: SpecSet, outcomes: Sequence[Outcome]) -> list[str]:
    pager = receiver_name(specs.service, PAGING_SEVERITY)
    lines = []
    for o in outcomes:
        if o.plan.scenario.name != LOW_TRAFFIC or o.result is None:
            continue
        timeline = o.result.timeline
        pages = sorted({ref for ref, status, rcv in timeline.notified if rcv == pager})
        fired = sorted(timeline.firing)
        lines.append(
            f"- {o.name}: {o.plan.rate * 3600:g} requests an hour (per compressed hour in the "
            f"drill); "
            f"alerts fired: {', '.join(fired) or 'none'}; pages to `{pager}`: "
            f"{', '.join(pages) or 'none'}."
        )
    return lines or ["- no low-traffic drill in this run."]


def _notification_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        if o.result is None:
            continue
        timeline = o.result.timeline
        receivers = sorted({rcv for _, rcv, _, _ in timeline.notifications} | {o.plan.pager})
        for receiver in receivers:
            firing, opened = page_tally(timeline, receiver)
            resolved = sum(
                1
                for _, rcv, _, status in timeline.notifications
                if rcv == receiver and status == "resolved"
            )
            rows.append([o.name, f"`{receiver}`", str(firing), str(opened), str(resolved)])
    return rows


def summary_markdown(specs: SpecSet, outcomes: Sequence[Outcome], wall_seconds: float) -> str:
    passed = sum(o.passed for o in outcomes)
    scale = {o.plan.scale for o in outcomes}
    lines = [
        "# Drill summary",
        "",
        f"{passed} of {len(outcomes)} drills passed in {wall_seconds:.0f}s of wall time "
        f"(rules time-scaled ×{', ×'.join(str(s) for s in sorted(scale))}, drills run side by "
        "side, each on a stack of its own).",
        "",
        *_table(
            ["Drill", "Result", "Wall time", "Expected alerts", "Report"], _drill_rows(outcomes)
        ),
        "",
        "## Detection: measured against theory",
        "",
        "Measured from the fault's start to Prometheus' firing time (activeAt + `for`); theory "
        "is the window math on the pushed traffic plus the mean pipeline delay. Allowed: two "
        "evaluation intervals either way.",
        "",
        *_table(
            ["Drill", "Alert", "Theory", "Measured", "Difference", "Within"],
            _detection_rows(outcomes),
        ),
        "",
        "## Notifications per receiver",
        "",
        "Firing notifications, groups they opened (a page: PagerDuty dedups on the Alertmanager "
        "group, so only a firing notification for a group not already open pages anyone) and "
        "resolved notifications, per drill and receiver. A drill that expects a critical alert "
        "passes only with exactly one page; one that expects none, with none.",
        "",
        *_table(
            ["Drill", "Receiver", "Firing", "Opened", "Resolved"], _notification_rows(outcomes)
        ),
        "",
        "## Low traffic pages nobody",
        "",
        *_low_traffic_lines(specs, outcomes),
    ]
    return "\n".join(lines) + "\n"


def write_summary(
    specs: SpecSet, outcomes: Sequence[Outcome], wall_seconds: float, out_dir: Path
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SUMMARY_FILE
    path.write_text(summary_markdown(specs, outcomes, wall_seconds), encoding="utf-8")
    return path
