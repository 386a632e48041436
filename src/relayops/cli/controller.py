"""`relayops controller run | status | pause | resume | set-percent | history`.

Exit codes: 0 done (every provider decided, hold included); 1 a run failed (Prometheus or
Redis unreachable, a measurement error, corrupt or concurrently changed state); 2 bad
arguments or specs; 3 skipped, another run holds a provider's lock.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

from relayops.cli.common import CommandError, Exit, provider_named, specs_from
from relayops.controller.audit_file import last_known_note
from relayops.controller.cycle import RunOutcome, Sinks, Status, run_cycle
from relayops.controller.manual import set_paused, set_percent
from relayops.controller.measure import prometheus_query
from relayops.controller.state import (
    CorruptState,
    MissingState,
    RolloutStore,
    StateChanged,
    parse_percent,
)
from relayops.spec import SpecError, SpecSet
from relayops.spec import env as env_names
from relayops.spec.durations import parse_duration
from relayops.spec.timescale import time_scaled

DEFAULT_AUDIT_LOG = Path(".relayops/controller-audit.jsonl")
ENV = {
    "prometheus": env_names.PROMETHEUS_URL,
    "redis": env_names.REDIS_URL,
    "pushgateway": env_names.PUSHGATEWAY_URL,
}


def _url(args: argparse.Namespace, name: str, required: bool = True) -> str | None:
    value = getattr(args, name, None) or os.environ.get(ENV[name])
    if not value and required:
        raise CommandError(f"no {name} URL: set {ENV[name]} or pass --{name}")
    return value or None


def _specs(args: argparse.Namespace) -> SpecSet:
    specs = specs_from(args.specs)
    provider_named(specs, getattr(args, "provider", None))
    return specs


def _providers(args: argparse.Namespace, specs: SpecSet) -> list[str]:
    return [args.provider] if args.provider else [p.name for p in specs.providers]


def _redis(args: argparse.Namespace) -> redis.Redis:
    url = _url(args, "redis")
    try:
        return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    except ValueError as exc:
        raise CommandError(f"{ENV['redis']} is not a Redis URL: {exc}") from exc


def _who(args: argparse.Namespace) -> str:
    return args.who or os.environ.get("RELAYOPS_ACTOR") or getpass.getuser()


def _audit_log(args: argparse.Namespace) -> Path:
    return Path(args.audit_log or os.environ.get("RELAYOPS_AUDIT_LOG") or DEFAULT_AUDIT_LOG)


def _print_outcome(outcome: RunOutcome, dry_run: bool) -> None:
    prefix = "DRY RUN " if dry_run else ""
    decision = outcome.decision
    if decision is None:
        print(f"{prefix}{outcome.provider}: {outcome.status}: {outcome.message}")
    else:
        print(
            f"{prefix}{outcome.provider}: {decision.result.upper()} {decision.old:g}% -> "
            f"{decision.new:g}% ({outcome.status}): {decision.reason}"
        )
    for measurement in (*outcome.checks, *filter(None, [outcome.severe])):
        print(f"  {measurement.describe()}")
    for warning in outcome.warnings:
        print(f"  warning: {warning}", file=sys.stderr)


def _cycle(args: argparse.Namespace, specs: SpecSet, client: redis.Redis) -> int:
    query = prometheus_query(_url(args, "prometheus"))
    pushgateway = None if args.dry_run else _url(args, "pushgateway", required=False)
    if not args.dry_run and pushgateway is None:
        print(f"warning: {ENV['pushgateway']} not set: telemetry not pushed", file=sys.stderr)
    sinks = Sinks(None if args.dry_run else _audit_log(args), pushgateway)
    code = Exit.OK
    for provider in _providers(args, specs):
        try:
            outcome = run_cycle(
                specs,
                provider,
                query,
                client,
                time.time(),
                dry_run=args.dry_run,
                who=_who(args),
                sinks=sinks,
            )
        except redis.RedisError as exc:
            print(f"{provider}: failed: Redis: {exc}", file=sys.stderr)
            code = max(code, Exit.FAILED)
            continue
        _print_outcome(outcome, args.dry_run)
        if outcome.status is Status.LOCKED:
            code = Exit.LOCKED if code == Exit.OK else code
        elif outcome.status is Status.FAILED:
            code = Exit.FAILED if code in (Exit.OK, Exit.LOCKED) else code
    return code


def cmd_run(args: argparse.Namespace) -> int:
    specs = _specs(args)
    if args.time_scale != 1:
        try:
            specs = time_scaled(specs, args.time_scale)
        except (ValueError, SpecError) as exc:
            raise CommandError(str(exc)) from exc
    client = _redis(args)
    if args.once:
        return _cycle(args, specs, client)
    every = parse_duration(args.every)
    try:
        while True:
            started = time.monotonic()
            _cycle(args, specs, client)
            time.sleep(max(0.0, every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return Exit.OK


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def cmd_status(args: argparse.Namespace) -> int:
    specs = _specs(args)
    client = _redis(args)
    code = Exit.OK
    for provider in _providers(args, specs):
        try:
            state = RolloutStore(client, provider).read()
        except MissingState as exc:
            print(f"{provider}: MISSING: {exc}{last_known_note(_audit_log(args), provider)}")
            code = Exit.FAILED
            continue
        except CorruptState as exc:
            print(f"{provider}: CORRUPT: {exc}")
            code = Exit.FAILED
            continue
        rollout = specs.provider(provider).rollout
        print(
            f"{provider}: {state.percent:g}%{' PAUSED' if state.paused else ''}; last change "
            f"{_when(state.last_change_at)} (from {state.previous_percent}); last rollback "
            f"{_when(state.last_rollback_at)}; {state.consecutive_errors} measurement errors in "
            f"a row; steps {', '.join(f'{s:g}' for s in rollout.steps)}, "
            f"{rollout.bucketing_unit} buckets"
        )
    return code


def _manual(args: argparse.Namespace, apply) -> int:
    specs = _specs(args)
    client = _redis(args)
    store = RolloutStore(client, args.provider)
    try:
        state, repaired = apply(store, specs)
    except StateChanged as exc:
        raise CommandError(str(exc), Exit.FAILED) from exc
    for problem in repaired:
        print(f"{args.provider}: repaired: {problem}")
    print(f"{args.provider}: {state.percent:g}%{' PAUSED' if state.paused else ''} ({args.reason})")
    return Exit.OK


def cmd_set_percent(args: argparse.Namespace) -> int:
    try:
        percent = parse_percent(args.percent, "the percentage argument")
    except CorruptState as exc:
        raise CommandError(str(exc).split(";")[0]) from exc
    return _manual(
        args,
        lambda store, specs: set_percent(
            store, percent, args.reason, _who(args), time.time(), _audit_log(args)
        ),
    )


def cmd_pause(args: argparse.Namespace, paused: bool) -> int:
    return _manual(
        args,
        lambda store, specs: set_paused(
            store, paused, args.reason, _who(args), time.time(), _audit_log(args)
        ),
    )


def cmd_history(args: argparse.Namespace) -> int:
    specs = _specs(args)
    client = _redis(args)
    for provider in _providers(args, specs):
        for entry in RolloutStore(client, provider).history(args.limit):
            old, new = entry.get("old"), entry.get("new")
            moved = "" if old is None else f" {old:g}% -> {new:g}%"
            print(
                f"{_when(entry['at'])} {provider} {entry.get('result') or entry['status']}{moved}"
                f" by {entry['who']}: {entry['reason']}"
            )
    return Exit.OK


def _guarded(command):
    """A Redis that fails mid-command is the command failing, not bad input."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except redis.RedisError as exc:
            raise CommandError(f"Redis: {exc}", Exit.FAILED) from exc

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `controller` and its subcommands."""
    controller = subparsers.add_parser(
        "controller",
        help="the SLO-driven rollout controller",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = controller.add_subparsers(dest="controller_command", required=True, metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser, provider: str = "option") -> None:
        if provider == "option":
            p.add_argument("--provider", default=None, help="provider spec name (default: all)")
        else:
            p.add_argument("provider", help="provider spec name, e.g. gmail")
        p.add_argument("--specs", type=Path, default=Path("specs"), help="specs folder")
        p.add_argument("--redis", default=None, help=f"Redis URL (default ${ENV['redis']})")
        p.add_argument("--who", default=None, help="who acts (default $RELAYOPS_ACTOR or user)")
        p.add_argument(
            "--audit-log",
            default=None,
            help=f"JSON-lines audit file (default $RELAYOPS_AUDIT_LOG or {DEFAULT_AUDIT_LOG})",
        )

    run = sub.add_parser("run", help="measure, decide and move the rollout percentage")
    common(run)
    run.add_argument("--prometheus", default=None, help=f"default ${ENV['prometheus']}")
    run.add_argument("--pushgateway", default=None, help=f"default ${ENV['pushgateway']}")
    run.add_argument(
        "--dry-run", action="store_true", help="print the full decision, write nothing anywhere"
    )
    run.add_argument("--once", action="store_true", help="one cycle, then exit (for cron)")
    run.add_argument(
        "--time-scale",
        type=int,
        default=1,
        help="read the series of rules rendered with --time-scale N and divide the dwell, "
        "cooldown and failure windows by N too (drills; default 1)",
    )
    run.add_argument("--every", default="5m", help="cycle period without --once (default 5m)")
    run.set_defaults(func=_guarded(cmd_run))
    status = sub.add_parser("status", help="each provider's percentage and state")
    common(status)
    status.set_defaults(func=_guarded(cmd_status))
    for name, paused in (("pause", True), ("resume", False)):
        p = sub.add_parser(name, help=f"{name} a provider's rollout (audited)")
        common(p, provider="positional")
        p.add_argument("--reason", required=True, help="why (goes to the audit trail)")
        p.set_defaults(func=_guarded(lambda a, paused=paused: cmd_pause(a, paused)))
    setp = sub.add_parser("set-percent", help="override a provider's percentage (audited)")
    common(setp, provider="positional")
    setp.add_argument("percent", help="0-100, at most two decimals")
    setp.add_argument("--reason", required=True, help="why (goes to the audit trail)")
    setp.set_defaults(func=_guarded(cmd_set_percent))
    history = sub.add_parser("history", help="the newest audited decisions and overrides")
    common(history)
    history.add_argument("--limit", type=int, default=20, help="entries per provider")
    history.set_defaults(func=_guarded(cmd_history))
