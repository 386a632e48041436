"""The `relayops` command: its parser, the render / validate / check commands, and `main`,
which ends every command the same way (relayops.cli.common)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from relayops.cli.common import CommandError, Exit, say, spec_problems, specs_from
from relayops.cli.controller import register as register_controller
from relayops.cli.drill import register as register_drill
from relayops.cli.oauth import register as register_oauth
from relayops.cli.report import register as register_report
from relayops.cli.send import register as register_send
from relayops.cli.stack import register as register_stack
from relayops.cli.synth import register as register_synth
from relayops.spec import SpecError, load_specs

DEFAULT_OUT = Path("rendered")


def cmd_validate(args: argparse.Namespace) -> int:
    specs = specs_from(args.specs)
    slos = sum(len(p.slos) for p in specs.providers)
    print(f"ok: {len(specs.providers)} providers, {slos} SLOs in {args.specs}")
    return Exit.OK


def _readme(args: argparse.Namespace) -> Path | None:
    """The README whose generated sections are kept current: --readme, else the one beside
    specs/. None in drill mode, whose Alertmanager tree is not the production one."""
    if args.drill_webhook:
        return None
    if args.readme is not None:
        return args.readme
    beside = args.specs.resolve().parent / "README.md"
    return beside if beside.is_file() else None


def _readme_text(specs, rendered, readme: Path) -> str:
    from relayops.render import readme_sections
    from relayops.render.readme import with_sections

    amtool = shutil.which("amtool")
    if amtool is None:
        raise ValueError("amtool is needed to draw the routing tree; run `make tools`")
    current = readme.read_text(encoding="utf-8")
    return with_sections(current, readme_sections(specs, rendered, amtool))


def _render_time_scaled(args: argparse.Namespace) -> int:
    from relayops.render import DRILL_MANAGED, render_time_scaled
    from relayops.rules.output import write_tree

    specs = specs_from(args.specs)
    try:
        files = render_time_scaled(specs, args.specs, args.time_scale, args.drill_webhook)
    except SpecError as exc:
        problems = spec_problems(exc)
        raise CommandError(f"time scale {args.time_scale} breaks the specs:\n{problems}") from exc
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    changed = write_tree(args.out, files, DRILL_MANAGED)
    print(
        f"rendered {len(files)} time-scaled (×{args.time_scale}) files into {args.out} "
        f"({len(changed)} changed)"
    )
    return Exit.OK


def target_option(parser: argparse.ArgumentParser) -> None:
    from relayops.spec.targets import TARGETS

    parser.add_argument(
        "--target",
        action="append",
        choices=TARGETS,
        default=None,
        help="write the rules for this target (repeat for several; default: service.yaml's "
        "`targets`): plain Prometheus rule files, one PrometheusRule per provider, or one "
        "Mimir rule namespace file per provider",
    )


def _targets(args: argparse.Namespace) -> tuple | None:
    """The targets named by --target, in the order given; None: service.yaml's."""
    named = getattr(args, "target", None)
    return tuple(dict.fromkeys(named)) if named else None


def cmd_render(args: argparse.Namespace) -> int:
    from relayops.cli.runbook_commands import broken_commands
    from relayops.promtest.scenarios import GenerationError
    from relayops.render import MANAGED, render_all
    from relayops.rules.output import write_tree

    if (args.drill_webhook or args.time_scale) and args.out is None:
        raise CommandError(
            "--drill-webhook and --time-scale need --out DIR; rendered/ stays the production tree"
        )
    if args.time_scale is not None:
        if _targets(args):
            raise CommandError(
                "--time-scale writes plain rule files for a drill's Prometheus; drop --target"
            )
        return _render_time_scaled(args)
    out = args.out or DEFAULT_OUT
    specs = specs_from(args.specs)
    try:
        rendered = render_all(specs, args.specs, args.drill_webhook, _targets(args))
    except (GenerationError, ValueError) as exc:
        raise CommandError(f"cannot render {args.specs}: {exc}") from exc
    broken = broken_commands(rendered.files, build_parser())
    if broken:
        problems = "\n".join(f"  {problem}" for problem in broken)
        raise CommandError(f"runbook commands the CLI refuses (nothing written):\n{problems}")
    readme = _readme(args)
    readme_text = current = None
    if readme is not None:
        try:
            current = readme.read_text(encoding="utf-8")
            readme_text = _readme_text(specs, rendered, readme)
        except (OSError, ValueError) as exc:
            raise CommandError(f"{readme}: {exc}", Exit.FAILED) from exc
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            if out.is_dir():
                shutil.copytree(out, tmp, dirs_exist_ok=True)
            drift = [out / rel for rel in write_tree(Path(tmp), rendered.files, MANAGED)]
        if readme_text != current:
            drift.append(readme)
        for path in drift:
            print(f"drift: {path}", file=sys.stderr)
        if drift:
            say(args.command, "rendered output is stale; run `make render` and commit it")
            return Exit.FAILED
        print(f"ok: {len(rendered.files)} rendered files match {args.specs}")
        return Exit.OK
    changed = write_tree(out, rendered.files, MANAGED)
    if readme_text != current:
        write_tree(readme.parent, {readme.name: readme_text}, ())
        changed.append(str(readme))
    print(f"rendered {len(rendered.files)} files into {out} ({len(changed)} changed)")
    return Exit.OK


# promtool is a short-lived Go program whose test runs spend a sixth of their CPU collecting
# garbage at Go's default heap target; four times that target (under 300 MB per run for the
# shipped specs) saves it. A GOGC the caller set wins.
PROMTOOL_GOGC = "400"


def promtool_env() -> dict[str, str]:
    """The environment `relayops check` runs promtool in."""
    return {**os.environ, "GOGC": os.environ.get("GOGC", PROMTOOL_GOGC)}


def _run_all(commands: list[list[str]], jobs: int) -> bool:
    """Run commands `jobs` at a time; print each, and the output of those that fail."""
    env = promtool_env()

    def run(command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, check=False, env=env)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(run, commands))
    ok = True
    for command, result in zip(commands, results, strict=True):
        print("$ " + " ".join(command) + ("" if result.returncode == 0 else "  # FAILED"))
        if result.returncode != 0:
            print((result.stdout + result.stderr).strip(), file=sys.stderr)
            ok = False
    return ok


def cmd_check(args: argparse.Namespace) -> int:
    specs_from(args.specs)  # bad specs are the first thing to say
    promtool = shutil.which("promtool")
    if promtool is None:
        raise CommandError(
            "promtool not found; run `make tools` (Debian package prometheus)", Exit.FAILED
        )
    out = args.out or DEFAULT_OUT
    if not sorted((out / "tests").glob("*.yml")):
        raise CommandError(
            f"nothing rendered under {out}; run `relayops render` first", Exit.FAILED
        )
    render_args = argparse.Namespace(
        command=args.command,
        specs=args.specs,
        out=out,
        check=True,
        readme=args.readme,
        drill_webhook=None,
        time_scale=None,
        target=args.target,
    )
    ok = cmd_render(render_args) == Exit.OK
    ok &= _check_dashboards(args.specs, out, promtool)
    with tempfile.TemporaryDirectory() as work:
        ok &= _check_rules(args, out, Path(work), promtool)
    if not ok:
        say(args.command, "check failed")
        return Exit.FAILED
    print("ok: rendered rules are current, lint-clean and pass their tests")
    return Exit.OK


def _check_rules(args: argparse.Namespace, out: Path, work: Path, promtool: str) -> bool:
    """promtool on the plain rules, on every embedding target's groups, and the generated
    tests on the rules of the targets rendered (relayops.render.tree)."""
    from relayops.render.tree import check_tree

    specs = load_specs(args.specs)
    tree = check_tree(specs, out, _targets(args) or specs.service.targets, work)
    for problem in tree.problems:
        print(f"  {problem}", file=sys.stderr)
    rules = sorted(str(p) for p in (tree.root / "prometheus").glob("*.yml"))
    rules += [str(p) for p in tree.extracted]
    tests = sorted(str(p) for p in (tree.root / "tests").glob("*.yml"))
    commands = [[promtool, "check", "rules", "--lint-fatal", *rules]]
    commands += [[promtool, "test", "rules", test] for test in tests]
    return _run_all(commands, args.jobs) and not tree.problems


def _check_dashboards(specs_dir: Path, out: Path, promtool: str) -> bool:
    """Offline dashboard checks on the files under out/grafana, and every alert's link."""
    from relayops.dashboards import check_dashboard_links, check_dashboards
    from relayops.rules.alerts import alert_defs

    specs = load_specs(specs_dir)
    files = {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((out / "grafana").rglob("*"))
        if p.is_file()
    }
    urls = [
        a.rule.annotations["dashboard_url"]
        for spec in specs.providers
        for a in alert_defs(specs, spec)
    ]
    problems = check_dashboards(specs, files, promtool) + check_dashboard_links(specs, files, urls)
    print(f"$ dashboard checks on {out / 'grafana'}" + ("" if not problems else "  # FAILED"))
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return not problems


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relayops",
        description="Render Prometheus rules, alerts and their promtool tests from specs/.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, out: bool = True) -> None:
        p.add_argument(
            "--specs",
            type=Path,
            default=Path("specs"),
            help="folder of service.yaml and the provider specs (default: specs)",
        )
        if out:
            p.add_argument(
                "--out",
                type=Path,
                default=None,
                help="folder of the rendered output (default: rendered)",
            )
            p.add_argument(
                "--readme",
                type=Path,
                default=None,
                help="README whose alert table to regenerate (default: the README.md beside "
                "the specs folder, if any)",
            )

    validate = sub.add_parser(
        "validate",
        help="validate the specs; exit 2 naming every problem",
        description="Validate every spec file. Exit 0 when valid, 2 when "
        "not, listing file:line, field and the fix for each problem.",
    )
    common(validate, out=False)
    validate.set_defaults(func=cmd_validate)

    render = sub.add_parser(
        "render",
        help="render rules, alerts and promtool tests",
        description="Render rendered/prometheus and rendered/tests from the "
        "specs. Writes nothing when a spec is invalid (exit 2).",
    )
    common(render)
    target_option(render)
    render.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the rendered files would change",
    )
    render.add_argument(
        "--drill-webhook",
        metavar="URL",
        default=None,
        help="drill mode: every Alertmanager receiver posts to this local webhook URL "
        "(needs --out; the README is left alone)",
    )
    render.add_argument(
        "--time-scale",
        metavar="N",
        type=int,
        default=None,
        help="drill mode: divide every window and `for` by N (never below 2 s) and render "
        "rules, alerts and Alertmanager only (needs --out)",
    )
    render.set_defaults(func=cmd_render)

    check = sub.add_parser(
        "check",
        help="drift check, promtool check rules and test rules",
        description="Exit 0 when rendered/ matches the specs, passes "
        "`promtool check rules --lint-fatal` and `promtool test rules`; "
        "1 otherwise; 2 when a spec is invalid.",
    )
    common(check)
    target_option(check)
    check.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="promtool processes to run at once (default: one per CPU)",
    )
    check.set_defaults(func=cmd_check)
    register_stack(sub)
    register_synth(sub)
    register_drill(sub)
    register_report(sub)
    register_controller(sub)
    register_send(sub)
    register_oauth(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CommandError as exc:
        say(args.command, str(exc))
        return exc.code
    except KeyboardInterrupt:
        say(args.command, "interrupted")
        return Exit.INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`relayops … | head`): nothing more can be said to it, and the
        # interpreter's own flush at exit must not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.FAILED
