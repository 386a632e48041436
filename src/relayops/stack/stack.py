"""`stack up | down | status`: Prometheus, Alertmanager, Pushgateway, Redis and the drill
webhook sink on loopback ports, recorded in a state folder so `down` stops exactly them."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from relayops.rules.render_paths import rule_paths
from relayops.spec import SpecError, load_specs
from relayops.stack import commands, config
from relayops.stack.commands import Launch
from relayops.stack.daemons import (
    LOOPBACK,
    DaemonError,
    Running,
    find_binaries,
    http_ready,
    identity,
    kill,
    on_free_port,
    port_is_free,
    redis_ready,
    start,
    stop,
)
from relayops.stack.state import Component, Stack, load, save

COMPONENTS = ("sink", "redis", "pushgateway", "alertmanager", "prometheus")
BINARIES = {
    "prometheus": "prometheus",
    "alertmanager": "prometheus-alertmanager",
    "pushgateway": "prometheus-pushgateway",
    "redis": "redis-server",
}
DEFAULT_STATE = Path(".drill/stack")
_live: set[Path] = set()  # state folders of the stacks this process started and has not stopped


class StackError(RuntimeError):
    """The stack cannot be started; the message says why and what to do."""


class StackRunning(StackError):
    """A live stack is already recorded in the state folder."""

    def __init__(self, stack: Stack):
        self.stack = stack
        super().__init__(f"a stack is already running from {stack.state_dir}")


def _alive(component: Component) -> bool:
    return identity(component.pid) == component.identity


def _answers(component: Component) -> bool:
    if not _alive(component):
        return False
    if component.name == "redis":
        return redis_ready(component.port)()
    return http_ready(component.url + "/-/ready")()


def _check_ports(ports: Mapping[str, int]) -> None:
    unknown = sorted(set(ports) - set(COMPONENTS))
    if unknown:
        raise StackError(f"unknown component(s) {', '.join(unknown)}; known: {COMPONENTS}")
    if len(set(ports.values())) != len(ports):
        raise StackError(f"the same port is given to two components: {dict(ports)}")
    taken = [f"{port} ({name})" for name, port in ports.items() if not port_is_free(port)]
    if taken:
        raise StackError(f"port(s) already taken on {LOOPBACK}: {', '.join(taken)}")


def _prepare_state_dir(state_dir: Path) -> None:
    """Refuse a live stack; clear a dead one's leftovers; refuse a folder that is not ours."""
    recorded = load(state_dir)
    if recorded is not None:
        if any(_alive(c) for c in recorded.components.values()):
            raise StackRunning(recorded)
        shutil.rmtree(state_dir)
    if state_dir.exists() and any(state_dir.iterdir()):
        raise StackError(
            f"{state_dir} is not empty and records no stack; pass another --state folder"
        )
    state_dir.mkdir(parents=True, exist_ok=True)


def _launch(
    name: str, port: int | None, log: Path, launch: Launch, record: Callable[[Component], None]
) -> Component:
    """Start one component, on `port` or else on a free one (on_free_port); `record` is given
    it as soon as its process exists, and again only if its identity changed by the time it
    was ready (start time and command name: not expected to)."""

    def attempt(chosen: int) -> Component:
        argv, ready, url = launch(chosen)
        recorded: list[Component] = []

        def spawned(running: Running) -> None:
            recorded.append(Component(name, url, chosen, running.pid, running.identity, log))
            record(recorded[-1])

        running = start(name, argv, log, ready, spawned)
        component = Component(name, url, chosen, running.pid, running.identity, log)
        if recorded[-1:] != [component]:
            record(component)
        return component

    return attempt(port) if port is not None else on_free_port(attempt)


def _render(specs_dir: Path, out: Path, webhook_url: str) -> None:
    from relayops.render import MANAGED, render_all
    from relayops.rules.output import write_tree

    try:
        rendered = render_all(
            load_specs(specs_dir),
            specs_dir,
            drill_webhook_url=webhook_url,
            targets=("prometheus",),  # the local Prometheus loads plain rule files
        )
    except SpecError as exc:
        raise StackError(f"invalid specs in {specs_dir}:\n{exc}") from exc
    except ValueError as exc:
        raise StackError(f"cannot render {specs_dir}: {exc}") from exc
    write_tree(out, rendered.files, MANAGED)


def _drill_config(tree: Path, webhook_url: str, group_wait: str | None) -> str:
    try:
        return config.drill_alertmanager_config(
            tree / "alertmanager" / "alertmanager.yml", webhook_url, group_wait
        )
    except ValueError as exc:
        raise StackError(str(exc)) from exc


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def stack_up(
    specs_dir: Path,
    state_dir: Path,
    *,
    rendered: Path | None = None,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    group_wait: str | None = None,
    ports: Mapping[str, int] | None = None,
    redis: bool = True,
    providers: Sequence[str] | None = None,
) -> Stack:
    """Start the stack and record it in state_dir; on any failure stop what was started.

    Without `rendered`, the drill tree is rendered from specs_dir into state_dir/rendered
    (about 8 s); `rendered` must be a drill tree (`relayops render --drill-webhook`), whose
    webhooks are pointed at the sink. `group_wait` replaces every route's group_wait.
    `ports` fixes ports by component name; the others are chosen free. `redis` False leaves
    Redis out (drills do not use it). `providers` (spec names) loads only those providers'
    rules, by default all: a drill of one provider evaluates half the rules, which matters
    with dozens of stacks sharing the CPU.
    """
    state_dir = state_dir.resolve()
    ports = dict(ports or {})
    _check_ports(ports)
    binaries = {name: b for name, b in BINARIES.items() if redis or name != "redis"}
    try:
        paths = find_binaries(list(binaries.values()))
    except DaemonError as exc:
        raise StackError(str(exc)) from exc
    if rendered is not None and not (rendered / "alertmanager" / "alertmanager.yml").is_file():
        raise StackError(f"{rendered} holds no alertmanager/alertmanager.yml; render it first")
    _prepare_state_dir(state_dir)
    tree = state_dir / "rendered" if rendered is None else rendered.resolve()
    stack = Stack(state_dir, tree, time.time(), {})
    logs = state_dir / "logs"

    def record(component: Component) -> None:
        nonlocal stack
        stack = replace(stack, components={**stack.components, component.name: component})
        save(stack)

    def launch(name: str, make: Launch) -> Component:
        return _launch(name, ports.get(name), logs / f"{name}.log", make, record)

    _live.add(state_dir)
    try:
        launch("sink", commands.sink(stack.sink_log))
        if rendered is None:
            _render(specs_dir, tree, stack.webhook_url)
        rule_files = _rule_files(tree, providers)
        am_config = state_dir / "alertmanager" / "alertmanager.yml"
        _write(am_config, _drill_config(tree, stack.webhook_url, group_wait))
        if redis:
            launch("redis", commands.redis(paths["redis-server"], _folder(state_dir / "redis")))
        pushgateway = launch("pushgateway", commands.pushgateway(paths["prometheus-pushgateway"]))
        am = launch(
            "alertmanager",
            commands.alertmanager(
                paths["prometheus-alertmanager"], am_config, state_dir / "alertmanager" / "data"
            ),
        )
        prom_config = state_dir / "prometheus" / "prometheus.yml"
        _write(
            prom_config,
            config.prometheus_config(
                rule_files,
                f"{LOOPBACK}:{am.port}",
                f"{LOOPBACK}:{pushgateway.port}",
                scrape_interval,
                evaluation_interval,
            ),
        )
        launch(
            "prometheus",
            commands.prometheus(
                paths["prometheus"], prom_config, state_dir / "prometheus" / "data"
            ),
        )
    except BaseException as exc:
        _teardown(stack)
        if isinstance(exc, DaemonError):
            raise StackError(str(exc)) from exc
        raise
    return stack


def _rule_files(tree: Path, providers: Sequence[str] | None) -> list[Path]:
    """Every rule file of the rendered tree, or the given providers' (refused if missing)."""
    if providers is None:
        return [tree / "prometheus" / "*.yml"]
    files = [tree / path for name in providers for path in rule_paths(name)]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise StackError(
            f"no rendered rules for provider(s) {', '.join(providers)}: {', '.join(missing)} "
            "missing; name providers by their spec names (the specs' file names)"
        )
    return files


def _teardown(stack: Stack, end: Callable[[Running], bool] = stop) -> list[str]:
    """End the stack's processes that are still ours, newest first (`stop` by default);
    remove its state. The names of those ended."""
    ended = [c.name for c in reversed(stack.components.values()) if end(c.running)]
    shutil.rmtree(stack.state_dir, ignore_errors=True)
    _live.discard(stack.state_dir)
    return ended


def kill_every_stack() -> list[str]:
    """SIGKILL every daemon of every stack this process started and has not stopped yet, and
    remove their state (a forced exit: no grace, nothing waited for but the kills)."""
    killed = []
    for state_dir in list(_live):
        recorded = load(state_dir)
        if recorded is None:  # nothing started yet: only the folder to remove
            shutil.rmtree(state_dir, ignore_errors=True)
            _live.discard(state_dir)
        else:
            killed += _teardown(recorded, kill)
    return killed


def stack_down(state_dir: Path) -> list[str]:
    """Stop the processes recorded in state_dir (only those still ours) and remove the
    folder. Returns the names of the components that were stopped."""
    recorded = load(state_dir.resolve())
    return [] if recorded is None else _teardown(recorded)


def stack_status(state_dir: Path) -> dict[str, bool]:
    """Whether each recorded component is still our process and answers; {} if none."""
    recorded = load(state_dir.resolve())
    if recorded is None:
        return {}
    return {name: _answers(c) for name, c in recorded.components.items()}


def recorded_stack(state_dir: Path) -> Stack | None:
    return load(state_dir.resolve())


@contextmanager
def running_stack(specs_dir: Path, tmp_path: Path, **kw: Any) -> Iterator[Stack]:
    """A stack in tmp_path/stack for the block, always stopped afterwards (for tests)."""
    state_dir = tmp_path / "stack"
    stack = stack_up(specs_dir, state_dir, **kw)
    try:
        yield stack
    finally:
        stack_down(state_dir)
