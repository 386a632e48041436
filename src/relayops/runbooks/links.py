"""Checks that every alert's runbook_url and every link between runbooks resolves."""

from __future__ import annotations

import posixpath

from relayops.runbooks.anchors import heading_anchors, relative_links
from relayops.spec import SpecSet
from relayops.spec.links import runbook_path

RUNBOOK_DIR = posixpath.dirname(runbook_path("X"))
RENDERED_SUFFIX = f"/rendered/{RUNBOOK_DIR}"


class _Targets:
    """Rendered files and their heading anchors, each file parsed once."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        self.anchors: dict[str, set[str]] = {}

    def problem(self, path: str, anchor: str) -> str | None:
        """Why `path#anchor` does not resolve, or None when it does."""
        if path not in self.files:
            return f"{path} is not rendered"
        if path not in self.anchors:
            self.anchors[path] = set(heading_anchors(self.files[path]))
        if anchor and anchor not in self.anchors[path]:
            return f"{path} has no heading with anchor #{anchor}"
        return None


def _url_problem(base: str, targets: _Targets, url: str) -> str | None:
    if not url.startswith(base + "/"):
        return f"runbook_url {url} is not under runbook_base_url {base}"
    filename, _, anchor = url.removeprefix(base + "/").partition("#")
    if not filename.endswith(".md") or "/" in filename:
        return f"runbook_url {url} does not name a runbook file <Alert>.md"
    problem = targets.problem(runbook_path(filename.removesuffix(".md")), anchor)
    return f"runbook_url {url}: {problem}" if problem else None


def _internal_problems(targets: _Targets) -> list[str]:
    problems = []
    for source, text in sorted(targets.files.items()):
        if not source.startswith(RUNBOOK_DIR + "/"):
            continue
        for link in relative_links(text):
            path, _, anchor = link.partition("#")
            resolved = (
                posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
                if path
                else source
            )
            problem = targets.problem(resolved, anchor)
            if problem:
                problems.append(f"{source}: link {link}: {problem}")
    return problems


def check_runbook_links(specs: SpecSet, files: dict[str, str], alert_urls: list[str]) -> list[str]:
    """Every problem found: a runbook_url whose file or #anchor is not rendered, a base URL that
    does not point at the rendered runbooks, and broken links between runbook files."""
    base = specs.service.runbook_base_url
    targets = _Targets(files)
    problems = []
    if not base.endswith(RENDERED_SUFFIX):
        problems.append(
            f"runbook_base_url {base} must end with {RENDERED_SUFFIX}, the folder "
            "`relayops render` writes runbooks to"
        )
    problems += [p for url in alert_urls if (p := _url_problem(base, targets, url))]
    return problems + _internal_problems(targets)
