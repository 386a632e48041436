"""The `relayops` command: render, validate and check the observability-as-code tree."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from relayops.adapters.smoke import register as register_send
from relayops.controller.cli import register as register_controller
from relayops.drill.cli import register as register_drill
from relayops.oauth.cli import register as register_oauth
from relayops.report.cli import register as register_report
from relayops.spec import SpecError, load_specs
from relayops.stack.cli import register as register_stack
from relayops.synth.cli import register as register_synth

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
DEFAULT_OUT = Path("rendered")


def _load(specs_dir: Path):
    try:
        return load_specs(specs_dir)
    except SpecError as exc:
        print(f"relayops: {len(exc.issues)} problem(s) in {specs_dir}:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    specs = _load(args.specs)
    if specs is None:
        return EXIT_INVALID
    slos = sum(len(p.slos) for p in specs.providers)
    print(f"ok: {len(specs.providers)} providers, {slos} SLOs in {args.specs}")
    return EXIT_OK


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

    specs = _load(args.specs)
    if specs is None:
        return EXIT_INVALID
    try:
        files = render_time_scaled(specs, args.specs, args.time_scale, args.drill_webhook)
    except SpecError as exc:
        print(f"relayops: time scale {args.time_scale} breaks the specs:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return EXIT_INVALID
    except ValueError as exc:
        print(f"relayops: {exc}", file=sys.stderr)
        return EXIT_INVALID
    changed = write_tree(args.out, files, DRILL_MANAGED)
    print(
        f"rendered {len(files)} time-scaled (×{args.time_scale}) files into {args.out} "
        f"({len(changed)} changed)"
    )
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from relayops.promtest.scenarios import GenerationError
    from relayops.render import MANAGED, render_all
    from relayops.rules.output import write_tree
    from relayops.runbook_commands import broken_commands

    if (args.drill_webhook or args.time_scale) and args.out is None:
        print(
            "relayops: --drill-webhook and --time-scale need --out DIR; rendered/ stays the "
            "production tree",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.time_scale is not None:
        return _render_time_scaled(args)
    out = args.out or DEFAULT_OUT
    specs = _load(args.specs)
    if specs is None:
        return EXIT_INVALID
    try:
        rendered = render_all(specs, args.specs, args.drill_webhook)
    except (GenerationError, ValueError) as exc:
        print(f"relayops: cannot render {args.specs}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    broken = broken_commands(rendered.files, build_parser())
    if broken:
        print("relayops: runbook commands the CLI refuses (nothing written):", file=sys.stderr)
        for problem in broken:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INVALID
    readme = _readme(args)
    readme_text = current = None
    if readme is not None:
        try:
            current = readme.read_text(encoding="utf-8")
            readme_text = _readme_text(specs, rendered, readme)
        except (OSError, ValueError) as exc:
            print(f"relayops: {readme}: {exc}", file=sys.stderr)
            return EXIT_FAILED
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
            print(
                "relayops: rendered output is stale; run `make render` and commit it",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print(f"ok: {len(rendered.files)} rendered files match {args.specs}")
        return EXIT_OK
    changed = write_tree(out, rendered.files, MANAGED)
    if readme_text != current:
        write_tree(readme.parent, {readme.name: readme_text}, ())
        changed.append(str(readme))
    print(f"rendered {len(rendered.files)} files into {out} ({len(changed)} changed)")
    return EXIT_OK


def _run_all(commands: list[list[str]], jobs: int) -> bool:
    """Run commands `jobs` at a time; print each, and the output of those that fail."""

    def run(command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, check=False)

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
    promtool = shutil.which("promtool")
    if promtool is None:
        print(
            "relayops: promtool not found; run `make tools` (Debian package prometheus)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    out = args.out or DEFAULT_OUT
    rules = sorted(str(p) for p in (out / "prometheus").glob("*.yml"))
    tests = sorted(str(p) for p in (out / "tests").glob("*.yml"))
    if not rules or not tests:
        print(
            f"relayops: nothing rendered under {out}; run `relayops render` first",
            file=sys.stderr,
        )
        return EXIT_FAILED
    render_args = argparse.Namespace(
        specs=args.specs,
        out=out,
        check=True,
        readme=args.readme,
        drill_webhook=None,
        time_scale=None,
    )
    drift = cmd_render(render_args)
    if drift == EXIT_INVALID:
        return EXIT_INVALID
    ok = drift == EXIT_OK
    ok &= _check_dashboards(args.specs, out, promtool)
    commands = [[promtool, "check", "rules", "--lint-fatal", *rules]]
    commands += [[promtool, "test", "rules", test] for test in tests]
    ok &= _run_all(commands, args.jobs)
    print(
        "ok: rendered rules are current, lint-clean and pass their tests"
        if ok
        else "relayops: check failed",
        file=sys.stdout if ok else sys.stderr,
    )
    return EXIT_OK if ok else EXIT_FAILED


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
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
