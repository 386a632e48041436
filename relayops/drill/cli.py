"""`relayops drill run SCENARIO [--provider P]` and `relayops drill all`."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from relayops.drill.observe import ObserveError
from relayops.drill.plan import plan_drill
from relayops.drill.report import write_report
from relayops.drill.run import DrillResult, run_drill
from relayops.spec import SpecError, load_specs
from relayops.stack import StackError, running_stack
from rules_gen.output import write_tree
from rules_gen.render import DRILL_MANAGED, render_time_scaled
from synth.scenarios import scenarios

PLACEHOLDER_WEBHOOK = "http://127.0.0.1:9/drill"  # the stack points every webhook at its sink


def _print_result(result: DrillResult) -> None:
    plan = result.plan
    verdict = "PASS" if result.passed else "FAIL"
    print(f"{verdict} {plan.scenario.name} on {plan.provider} (×{plan.scale}, {plan.rate:g} req/s)")
    for check in result.checks:
        print(f"  {'ok ' if check.ok else 'BAD'} {check.name}: {check.evidence}")
    for ref in plan.too_slow:
        print(f"  --- {ref}: too slow to fire within this drill at ×{plan.scale} (not judged)")


def _drill(args: argparse.Namespace, pairs: list[tuple[str, str]]) -> int:
    try:
        specs = load_specs(args.specs)
    except SpecError as exc:
        print(f"relayops: invalid specs:\n{exc}", file=sys.stderr)
        return 2
    catalog = scenarios(specs)
    results = []
    with tempfile.TemporaryDirectory(prefix="relayops-drill-") as tmp:
        tree = Path(tmp) / "tree"
        files = render_time_scaled(specs, args.specs, args.time_scale, PLACEHOLDER_WEBHOOK)
        write_tree(tree, files, DRILL_MANAGED)
        for name, provider in pairs:
            plan = plan_drill(
                specs, catalog[name], provider, args.time_scale, args.rate, args.max_seconds
            )
            print(
                f"drill {name} on {provider}: scenario {plan.run_seconds:.0f}s, "
                f"recovery {plan.recovery_seconds:.0f}s, expecting "
                f"{', '.join(e.ref for e in plan.fires) or 'no alert'}"
            )
            run_dir = Path(tmp) / f"{name}-{provider}"
            try:
                with running_stack(args.specs, run_dir, rendered=tree) as stack:
                    result = run_drill(specs, stack, plan)
                    if args.report_dir is not None:
                        report = write_report(
                            specs, stack, result, result.started_at, args.report_dir
                        )
                        print(f"report: {report}")
            except StackError as exc:
                print(f"relayops: the drill stack did not start: {exc}", file=sys.stderr)
                return 2
            except ObserveError as exc:
                print(f"relayops: drill report failed: {exc}", file=sys.stderr)
                return 2
            _print_result(result)
            results.append(result)
    failed = [r for r in results if not r.passed]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 0 if not failed else 1


def cmd_run(args: argparse.Namespace) -> int:
    specs = load_specs(args.specs)
    catalog = scenarios(specs)
    if args.scenario not in catalog:
        print(
            f"relayops: no scenario {args.scenario!r}; known: {', '.join(catalog)}", file=sys.stderr
        )
        return 2
    providers = catalog[args.scenario].providers
    if args.provider is not None and args.provider not in providers:
        print(
            f"relayops: scenario {args.scenario} applies to {', '.join(providers)}, not "
            f"{args.provider}",
            file=sys.stderr,
        )
        return 2
    chosen = [args.provider] if args.provider else list(providers)
    return _drill(args, [(args.scenario, p) for p in chosen])


def cmd_all(args: argparse.Namespace) -> int:
    catalog = scenarios(load_specs(args.specs))
    wanted = args.provider
    pairs = [
        (name, p)
        for name, s in catalog.items()
        for p in s.providers
        if wanted is None or p == wanted
    ]
    return _drill(args, pairs)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `drill run` and `drill all`."""
    drill = subparsers.add_parser(
        "drill",
        help="on-call drills on a local stack with time-scaled rules",
        description="Start a local stack with the rules time-scaled, push a synthetic "
        "scenario, and check which alerts fire, where they are routed, what is inhibited "
        "and that everything resolves. Exit 0 when every expectation holds, 1 when one "
        "fails, 2 on bad arguments or a stack that does not start.",
    )
    sub = drill.add_subparsers(dest="drill_command", required=True, metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--provider", default=None, help="provider spec name (default: all)")
        p.add_argument("--specs", type=Path, default=Path("specs"), help="specs folder")
        p.add_argument(
            "--time-scale",
            type=int,
            default=60,
            help="divide every window and `for` by N (default: 60)",
        )
        p.add_argument(
            "--rate", type=float, default=20.0, help="synthetic requests per second (default: 20)"
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
            default=120.0,
            help="alerts slower than this at the scale are not judged (default 120)",
        )

    run = sub.add_parser("run", help="run one scenario")
    run.add_argument("scenario", help="scenario name (see `relayops synth list`)")
    common(run)
    run.set_defaults(func=cmd_run)
    every = sub.add_parser("all", help="run every scenario on every provider it applies to")
    common(every)
    every.set_defaults(func=cmd_all)
