"""`relayops stack up | down | status`: the local drill stack from the command line."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from relayops.cli.common import CommandError, Exit, say
from relayops.stack.signals import ignore_stop_signals, on_stop_signals
from relayops.stack.stack import (
    COMPONENTS,
    DEFAULT_STATE,
    StackError,
    StackRunning,
    recorded_stack,
    stack_down,
    stack_status,
    stack_up,
)


class Interrupted(BaseException):
    """SIGTERM or SIGINT while the stack starts: unwinds like KeyboardInterrupt, so stack_up
    stops what it started."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _interrupt(signum: int, frame: object) -> None:
    ignore_stop_signals()  # a second signal must not cut the clean-up short
    raise Interrupted(signum)


def _port(text: str) -> tuple[str, int]:
    name, _, port = text.partition("=")
    if name not in COMPONENTS or not port.isdigit():
        raise argparse.ArgumentTypeError(
            f"expected NAME=PORT with NAME one of {', '.join(COMPONENTS)}, got {text!r}"
        )
    return name, int(port)


def _print_status(state_dir: Path) -> bool:
    """Print each component's URL and whether it answers; True when all do."""
    stack = recorded_stack(state_dir)
    if stack is None:
        print(f"no stack recorded in {state_dir}")
        return False
    answers = stack_status(state_dir)
    for name, component in stack.components.items():
        url = stack.webhook_url if name == "sink" else component.url
        state = "up" if answers[name] else "DOWN"
        print(f"{name:<13} {url:<40} {state:<5} pid {component.pid}  log {component.log}")
    print(f"notifications {stack.sink_log}")
    print(f"rule files    {stack.rendered / 'prometheus'}")
    return all(answers.values()) and set(answers) == set(COMPONENTS)


def cmd_up(args: argparse.Namespace) -> int:
    try:
        with on_stop_signals(_interrupt):
            stack_up(
                args.specs,
                args.state,
                rendered=args.rendered,
                scrape_interval=args.scrape_interval,
                evaluation_interval=args.evaluation_interval,
                group_wait=args.group_wait,
                ports=dict(args.port),
            )
    except Interrupted as exc:
        say("stack", f"stack up stopped by {exc}; stopped what it had started")
        return 128 + exc.signum
    except StackRunning as exc:
        say("stack", f"{exc}; run `relayops stack down` first")
        _print_status(args.state)
        return Exit.FAILED
    except StackError as exc:
        raise CommandError(f"stack up failed: {exc}") from exc
    _print_status(args.state)
    return Exit.OK


def cmd_down(args: argparse.Namespace) -> int:
    if recorded_stack(args.state) is None:
        print(f"no stack recorded in {args.state}")
        return Exit.OK
    stopped = stack_down(args.state)
    print(f"stopped {', '.join(stopped) or 'nothing (no recorded process was running)'}")
    print(f"removed {args.state}")
    return Exit.OK


def cmd_status(args: argparse.Namespace) -> int:
    return Exit.OK if _print_status(args.state) else Exit.FAILED


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `stack` command and its `up`, `down` and `status` subcommands."""
    stack = subparsers.add_parser(
        "stack",
        help="local drill stack: Prometheus, Alertmanager, Pushgateway, Redis, webhook sink",
        description="Run Prometheus, Alertmanager (drill routing to a local webhook sink), "
        "the Pushgateway and Redis on free loopback ports, recorded in a state folder.",
    )
    sub = stack.add_subparsers(dest="stack_command", required=True, metavar="SUBCOMMAND")

    def state(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--state",
            type=Path,
            default=DEFAULT_STATE,
            help=f"state folder: stack.json, data, logs (default: {DEFAULT_STATE})",
        )

    up = sub.add_parser(
        "up",
        help="start the stack",
        description="Render the drill tree (or use --rendered) and start every daemon. "
        "Exit 0 when all are ready, 1 when a stack is already running there, 2 when a "
        "binary is missing, a port is taken or a daemon fails (nothing is left running); "
        "SIGTERM or SIGINT while starting stops what was started (exit 143 or 130). If this "
        "command is killed outright, `stack down` stops every daemon it had started: each is "
        "recorded in the state folder as soon as its process exists.",
    )
    up.add_argument(
        "--specs",
        type=Path,
        default=Path("specs"),
        help="folder of the specs to render (default: specs)",
    )
    state(up)
    up.add_argument(
        "--rendered",
        type=Path,
        default=None,
        metavar="DIR",
        help="use this drill tree (`relayops render --drill-webhook URL --out DIR`) "
        "instead of rendering the specs; its webhooks are pointed at the sink",
    )
    up.add_argument("--scrape-interval", default="1s", help="Prometheus scrape interval")
    up.add_argument(
        "--evaluation-interval", default="1s", help="Prometheus rule evaluation interval"
    )
    up.add_argument(
        "--group-wait",
        default=None,
        help="replace every Alertmanager route's group_wait (e.g. 1s for fast drills)",
    )
    up.add_argument(
        "--port",
        type=_port,
        action="append",
        default=[],
        metavar="NAME=PORT",
        help=f"fixed port for a component ({', '.join(COMPONENTS)}); repeatable; "
        "the others get free ports",
    )
    up.set_defaults(func=cmd_up)

    down = sub.add_parser(
        "down",
        help="stop exactly what `up` started and remove the state folder",
        description="SIGTERM each recorded process that is still the one started "
        "(SIGKILL after 5 s), then remove the state folder.",
    )
    state(down)
    down.set_defaults(func=cmd_down)

    status = sub.add_parser(
        "status",
        help="print the URLs and whether each component answers",
        description="Exit 0 when every component answers, 1 otherwise.",
    )
    state(status)
    status.set_defaults(func=cmd_status)
