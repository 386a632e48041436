"""`relayops drill run SCENARIO [--provider P]` and `relayops drill all`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from relayops.cli.common import CommandError, Exit, provider_named, say, specs_from
from relayops.drill.batch import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_RATE,
    DEFAULT_SCALE,
    Batch,
    run_batch,
)
from relayops.drill.parallel import Outcome
from relayops.drill.stopping import Cancelled, StopRequest, stopping_on_signals
from relayops.drill.summary import write_summary
from relayops.spec import SpecSet
from relayops.synth.scenarios import scenarios


def _print_result(outcome: Outcome) -> None:
    plan, result = outcome.plan, outcome.result
    head = f"{plan.scenario.name} on {plan.provider} (×{plan.scale}, {plan.pushed_rate:g} req/s)"
    if result is None:
        print(f"ERROR {head}: {outcome.error}")
        return
    print(f"{'PASS' if result.passed else 'FAIL'} {head} in {outcome.seconds:.0f}s")
    for check in result.checks:
        print(f"  {'ok ' if check.ok else 'BAD'} {check.name}: {check.evidence}")
    for ref in plan.too_slow:
        print(f"  --- {ref}: {plan.too_slow_note(ref)}")


def _drill(args: argparse.Namespace, specs: SpecSet, pairs: list[tuple[str, str]]) -> int:
    batch = Batch(
        args.specs, args.time_scale, args.rate, args.max_seconds, args.jobs, args.report_dir
    )
    stop = StopRequest()
    try:
        with stopping_on_signals(stop, _say):
            outcomes, wall = run_batch(batch, specs, pairs, stop=stop)
    except Cancelled as exc:
        say("drill", f"drills {exc}; every daemon they started is stopped, no report written")
        return 128 + stop.signum
    for outcome in outcomes:
        _print_result(outcome)
    if args.report_dir is not None:
        print(f"summary: {write_summary(specs, outcomes, wall, args.report_dir)}")
    broken = [o for o in outcomes if o.result is None]
    failed = [o for o in outcomes if not o.passed]
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed, in {wall:.0f}s")
    if broken:
        say("drill", f"{len(broken)} drill(s) could not run")
        return Exit.INVALID
    return Exit.OK if not failed else Exit.FAILED


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _checked(args: argparse.Namespace) -> SpecSet:
    """The specs; CommandError when the arguments cannot be drilled."""
    if args.time_scale < 1:
        raise CommandError(f"--time-scale must be a whole number ≥ 1, got {args.time_scale}")
    if args.rate <= 0 or args.max_seconds <= 0 or args.jobs < 0:
        raise CommandError("--rate and --max-seconds must be positive, --jobs 0 (all) or more")
    specs = specs_from(args.specs)
    provider_named(specs, args.provider)
    return specs


def cmd_run(args: argparse.Namespace) -> int:
    specs = _checked(args)
    catalog = scenarios(specs)
    pairs = []
    for name in dict.fromkeys(args.scenario):
        if name not in catalog:
            raise CommandError(f"no scenario {name!r}; known: {', '.join(catalog)}")
        providers = catalog[name].providers
        if args.provider is not None and args.provider not in providers:
            raise CommandError(
                f"scenario {name} applies to {', '.join(providers)}, not {args.provider}"
            )
        pairs += [(name, p) for p in ([args.provider] if args.provider else providers)]
    return _drill(args, specs, pairs)


def cmd_all(args: argparse.Namespace) -> int:
    specs = _checked(args)
    pairs = [
        (name, p)
        for name, s in scenarios(specs).items()
        for p in s.providers
        if args.provider is None or p == args.provider
    ]
    return _drill(args, specs, pairs)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `drill run` and `drill all`."""
    drill = subparsers.add_parser(
        "drill",
        help="on-call drills on a local stack with time-scaled rules",
        description="Start a local stack with the rules time-scaled, push a synthetic "
        "scenario, and check which alerts fire, where they are routed, what is inhibited "
        "and that everything resolves. Exit 0 when every expectation holds, 1 when one "
        "fails, 2 on bad arguments or a stack that does not start. SIGTERM or SIGINT stops "
        "the drills and every daemon they started within seconds (exit 143 or 130); a second "
        "signal forces it.",
    )
    sub = drill.add_subparsers(dest="drill_command", required=True, metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--provider", default=None, help="provider spec name (default: all)")
        p.add_argument("--specs", type=Path, default=Path("specs"), help="specs folder")
        p.add_argument(
            "--time-scale",
            type=int,
            default=DEFAULT_SCALE,
            help=f"divide every window and `for` by N (default: {DEFAULT_SCALE})",
        )
        p.add_argument(
            "--rate",
            type=float,
            default=DEFAULT_RATE,
            help=f"production requests per second (default: {DEFAULT_RATE:g}); the drill pushes "
            "this times "
            "the time scale, so each shortened window holds as many events as in production",
        )
        p.add_argument(
            "--jobs",
            type=int,
            default=0,
            help="drills at a time, each on a stack of its own (default: all at once)",
        )
        p.add_argument(
            "--report-dir",
            type=Path,
            default=None,
            help="write a Markdown report with PNG plots per drill into this folder",
        )
        p.add_argument(
            "--max-seconds",
            type=float,
            default=DEFAULT_MAX_SECONDS,
            help="alerts slower than this at the scale are not judged "
            f"(default {DEFAULT_MAX_SECONDS:g})",
        )

    run = sub.add_parser("run", help="run one or more scenarios, side by side")
    run.add_argument("scenario", nargs="+", help="scenario name(s) (see `relayops synth list`)")
    common(run)
    run.set_defaults(func=cmd_run)
    every = sub.add_parser("all", help="run every scenario on every provider it applies to")
    common(every)
    every.set_defaults(func=cmd_all)
