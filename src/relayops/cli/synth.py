"""`relayops synth run|list`: push a scenario's traffic to a Pushgateway, or list scenarios."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from relayops.cli.common import CommandError, Exit, provider_named, specs_from
from relayops.spec import env as env_names
from relayops.spec.durations import parse_duration
from relayops.synth.driver import Driver, PushError
from relayops.synth.scenarios import NOMINAL_RATE, scenarios

ENV_URL = env_names.PUSHGATEWAY_URL
_FRACTIONAL = re.compile(r"(\d+(?:\.\d+)?)(ms|s)?")


def seconds(text: str) -> float:
    """A positive duration: 5m, 1h30m, 90s, 0.2s, 200ms or plain seconds (0.5)."""
    match = _FRACTIONAL.fullmatch(text.strip())
    if match:
        value = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
    else:
        try:
            value = parse_duration(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a duration must be positive, got {text!r}")
    return value


def rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected requests per second >= 0, got {text!r}")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    specs = specs_from(args.specs)
    catalog = scenarios(specs)
    scenario = catalog.get(args.scenario)
    if scenario is None:
        raise CommandError(
            f"unknown scenario {args.scenario!r}; choose one of: {', '.join(catalog)}"
        )
    spec = specs.provider(provider_named(specs, args.provider))
    if spec.name not in scenario.plans:
        raise CommandError(
            f"scenario {scenario.name} does not apply to {spec.name}; it applies to: "
            f"{', '.join(scenario.providers) or 'no provider of these specs'}"
        )
    url = args.pushgateway or os.environ.get(ENV_URL)
    if not url:
        raise CommandError(f"no Pushgateway: pass --pushgateway URL or set {ENV_URL}")
    driver = Driver(specs, spec, url, job=args.job)
    plan = scenario.plans[spec.name]
    print(
        f"synth: {scenario.name} on {spec.name} for {args.duration:g}s at "
        f"{plan.fixed_rate if plan.fixed_rate is not None else args.rate:g} req/s, "
        f"pushing to {url}{driver.group_path} every {args.tick:g}s"
    )
    try:
        summary = driver.run(scenario, args.duration, args.rate, tick_s=args.tick)
    except PushError as exc:
        raise CommandError(str(exc)) from exc
    print(f"done: {summary.ticks} ticks, {summary.pushes} pushes, {summary.deletes} deletes")
    for series, value in summary.totals.items():
        print(f"  {series} {value:g}")
    return Exit.OK


def cmd_list(args: argparse.Namespace) -> int:
    specs = specs_from(args.specs)
    print(f"Expected alerts are worked out at {NOMINAL_RATE:g} req/s.")
    for scenario in scenarios(specs).values():
        print(f"{scenario.name}: {scenario.summary}")
        if not scenario.plans:
            print("  (applies to no provider of these specs)")
        for provider, plan in scenario.plans.items():
            fires = ", ".join(plan.fires) or "nothing"
            print(f"  {provider}: fires {fires}; the other {len(plan.silent)} alerts stay silent")
    return Exit.OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `synth run` and `synth list` to the relayops command."""
    synth = subparsers.add_parser(
        "synth",
        help="push synthetic send-path traffic to a Pushgateway",
        description="Drive a provider's metrics through a named scenario on a real Pushgateway.",
    )
    sub = synth.add_subparsers(dest="synth_command", required=True, metavar="SUBCOMMAND")
    specs_help = "folder of service.yaml and the provider specs (default: specs)"

    run = sub.add_parser(
        "run",
        help="push one scenario for one provider",
        description="Push SCENARIO's traffic for --provider every --tick for --duration. "
        "Exit 2 on an unknown or inapplicable scenario, a bad value or an unreachable "
        "Pushgateway.",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="a name from `relayops synth list`")
    run.add_argument("--provider", required=True, help="provider spec name, e.g. gmail")
    run.add_argument("--duration", required=True, type=seconds, help="how long to run: 90s, 5m, 1h")
    run.add_argument(
        "--rate", type=rate, default=NOMINAL_RATE, help=f"requests/s (default {NOMINAL_RATE:g})"
    )
    run.add_argument(
        "--pushgateway",
        metavar="URL",
        default=None,
        help=f"Pushgateway base URL (default: ${ENV_URL})",
    )
    run.add_argument("--tick", type=seconds, default=1.0, help="push interval (default 1s)")
    run.add_argument("--job", default="relay-synth", help="job label of the grouping key")
    run.add_argument("--specs", type=Path, default=Path("specs"), help=specs_help)
    run.set_defaults(func=cmd_run)

    listing = sub.add_parser("list", help="list scenarios, their providers and expected alerts")
    listing.add_argument("--specs", type=Path, default=Path("specs"), help=specs_help)
    listing.set_defaults(func=cmd_list)
