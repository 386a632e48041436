"""`relayops report observation --since DURATION`: the go/no-go report of a running service."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from relayops.cli.common import CommandError, Exit, specs_from
from relayops.drill.observe import ObserveError
from relayops.report.observation import observe
from relayops.report.render import write_report
from relayops.spec import env as env_names
from relayops.spec.durations import parse_duration


def cmd_observation(args: argparse.Namespace) -> int:
    try:
        since_s = parse_duration(args.since)
    except ValueError as exc:
        raise CommandError(f"--since: {exc}") from exc
    if not args.prometheus:
        raise CommandError(
            f"no Prometheus: pass --prometheus URL or set {env_names.PROMETHEUS_URL}"
        )
    specs = specs_from(args.specs)
    try:
        observation = observe(specs, args.prometheus, since_s, time.time(), args.drills)
    except ObserveError as exc:
        raise CommandError(f"cannot read Prometheus: {exc}") from exc
    report = write_report(observation, args.prometheus, args.out)
    verdict = "GO" if observation.go else "NO-GO"
    print(f"{verdict}: {observation.score}/{len(observation.points)} points", end="")
    print(f", critical firing: {', '.join(observation.critical_firing) or 'none'}")
    for point in observation.points:
        mark = {True: "ok  ", False: "FAIL", None: "NONE"}[point.passed]
        print(f"  {mark} {point.name}: {point.measured} ({point.threshold})")
    print(f"report: {report}")
    return Exit.OK if observation.go else Exit.FAILED  # GO, NO-GO


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `report observation`."""
    report = subparsers.add_parser(
        "report",
        help="reports read from a running Prometheus",
        description="Reports on a running service.",
    )
    sub = report.add_subparsers(dest="report_command", required=True, metavar="SUBCOMMAND")
    observation = sub.add_parser(
        "observation",
        help="go/no-go report with the 10-point readiness score",
        description="Read a running Prometheus over the last DURATION and write the go/no-go "
        "report with plots and the 10-point readiness score. Exit 0 on GO (at least 7/10 and "
        "no critical alert firing), 1 on NO-GO, 2 on bad arguments or an unreadable Prometheus.",
    )
    observation.add_argument("--since", required=True, help="window to observe, e.g. 1h or 30m")
    observation.add_argument(
        "--prometheus",
        default=os.environ.get(env_names.PROMETHEUS_URL),
        help="Prometheus base URL (default: $PROMETHEUS_URL)",
    )
    observation.add_argument("--specs", type=Path, default=Path("specs"), help="specs folder")
    observation.add_argument(
        "--drills",
        type=Path,
        default=Path(".drill/report"),
        help="folder of drill reports (default: .drill/report, where `make drill` writes)",
    )
    observation.add_argument(
        "--out",
        type=Path,
        default=Path(".drill/observation"),
        help="folder to write the report into (default: .drill/observation)",
    )
    observation.set_defaults(func=cmd_observation)
