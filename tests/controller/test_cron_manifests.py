"""The three ways to run the rollout controller every 5 minutes: the GitHub workflow, the
Kubernetes CronJob and the systemd timer, read as their schedulers read them."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from relayops.controller.preflight import prometheus_url, redis_url
from tests.specs_util import REPO

WORKFLOW = REPO / ".github" / "workflows" / "rollout-controller.yml"
CRONJOB = REPO / "deploy" / "kubernetes" / "rollout-controller-cronjob.yaml"
SYSTEMD = REPO / "deploy" / "systemd"
SERVICE = SYSTEMD / "relayops-rollout-controller.service"
TIMER = SYSTEMD / "relayops-rollout-controller.timer"
ENV_EXAMPLE = SYSTEMD / "controller.env.example"
VARIABLES = ("PROMETHEUS_URL", "REDIS_URL", "PUSHGATEWAY_URL")
EVERY_5_MINUTES = "*/5 * * * *"
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _job() -> dict[str, Any]:
    (job,) = _workflow()["jobs"].values()
    return job


def _step(job: dict[str, Any], needle: str) -> dict[str, Any]:
    (step,) = [step for step in job["steps"] if needle in step.get("run", "")]
    return step


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def test_workflow_triggers() -> None:
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"] == [{"cron": EVERY_5_MINUTES}]
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["dry_run"]["type"] == "boolean" and inputs["dry_run"]["default"] is False
    assert inputs["provider"]["type"] == "string" and not inputs["provider"]["required"]


def test_workflow_is_gated_serialised_and_least_privileged() -> None:
    workflow = _workflow()
    job = _job()
    assert job["if"] == "vars.ROLLOUT_CONTROLLER_ENABLED == 'true'"
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert 0 < job["timeout-minutes"] <= 10


def test_workflow_connections_come_from_secrets() -> None:
    env = _job()["env"]
    assert env == {name: f"${{{{ secrets.{name} }}}}" for name in VARIABLES}
    assert not URL.search(WORKFLOW.read_text())


def test_workflow_runs_the_controller_only_after_a_ready_preflight() -> None:
    job = _job()
    steps = job["steps"]
    uses = [step["uses"].split("@")[0] for step in steps if "uses" in step]
    assert uses == ["actions/checkout", "actions/setup-python"]
    assert steps[1]["with"]["python-version"] == "3.11"
    install = _step(job, "pip install .")
    preflight = _step(job, "python -m relayops.controller.preflight")
    run = _step(job, "relayops controller run")
    assert steps.index(install) < steps.index(preflight) < steps.index(run)
    assert "if" not in preflight
    assert run["if"] == f"steps.{preflight['id']}.outputs.ready == 'true'"
    assert run["env"] == {"DRY_RUN": "${{ inputs.dry_run }}", "PROVIDER": "${{ inputs.provider }}"}


@pytest.mark.parametrize(
    ("dry_run", "provider", "status", "argv", "exit_code"),
    [
        ("", "", 0, "controller run --once", 0),
        ("false", "", 0, "controller run --once", 0),
        ("true", "gmail", 0, "controller run --once --dry-run --provider gmail", 0),
        ("", "", 3, "controller run --once", 0),
        ("", "outlook", 1, "controller run --once --provider outlook", 1),
        ("", "", 2, "controller run --once", 2),
    ],
)
def test_workflow_run_script(
    tmp_path: Path, dry_run: str, provider: str, status: int, argv: str, exit_code: int
) -> None:
    """The run step under GitHub's bash options, against a stub `relayops` exiting `status`:
    the dispatch inputs become flags, and 3 (another run holds the lock) is a clean skip."""
    bash = shutil.which("bash")
    assert bash is not None
    stub = tmp_path / "relayops"
    stub.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/argv"\nexit {status}\n')
    stub.chmod(0o755)
    script = tmp_path / "run.sh"
    script.write_text(_step(_job(), "relayops controller run")["run"])
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    env |= {"DRY_RUN": dry_run, "PROVIDER": provider}
    done = subprocess.run(
        [bash, "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == exit_code, done.stderr
    assert (tmp_path / "argv").read_text() == f"{argv}\n"
    assert ("::notice::skipped" in done.stdout) == (status == 3)


def test_cronjob() -> None:
    cronjob = yaml.safe_load(CRONJOB.read_text())
    assert (cronjob["apiVersion"], cronjob["kind"]) == ("batch/v1", "CronJob")
    spec = cronjob["spec"]
    assert spec["schedule"] == EVERY_5_MINUTES
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] < 300
    assert spec["successfulJobsHistoryLimit"] > 0 and spec["failedJobsHistoryLimit"] > 0
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    assert 0 < job["activeDeadlineSeconds"] < 300  # a cycle ends before the next is due
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["command"] == ["relayops", "controller", "run", "--once"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    from_secret = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in container["env"]
        if "valueFrom" in item
    }
    assert from_secret == {name: {"name": "relayops-controller", "key": name} for name in VARIABLES}
    assert not URL.search(CRONJOB.read_text())


def test_systemd_timer() -> None:
    timer = _unit(TIMER)
    assert timer["Timer"]["OnCalendar"] == "*:0/5"
    assert timer["Timer"]["Persistent"] == "true"
    delay = timer["Timer"]["RandomizedDelaySec"]
    assert delay.isdigit() and 0 < int(delay) <= 60
    assert timer["Timer"]["Unit"] == SERVICE.name
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_systemd_service() -> None:
    service = _unit(SERVICE)["Service"]
    assert service["Type"] == "oneshot"
    assert service["EnvironmentFile"] == "/etc/relayops/controller.env"
    python, *condition = service["ExecCondition"].split()
    relayops, *command = service["ExecStart"].split()
    assert condition == ["-m", "relayops.controller.preflight", "--condition"]
    assert command == ["controller", "run", "--once"]
    assert Path(python).is_absolute() and Path(python).parent == Path(relayops).parent
    assert service["SuccessExitStatus"] == "3"
    hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}
    assert {key: service[key] for key in hardening} == hardening
    assert service["DynamicUser"] == "yes"


def test_env_example_holds_placeholders_the_preflight_accepts() -> None:
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert tuple(values) == VARIABLES
    assert all(".example.internal" in value for value in values.values())
    assert prometheus_url(values) == values["PROMETHEUS_URL"]
    assert redis_url(values) == values["REDIS_URL"]


def test_systemd_analyze(tmp_path: Path) -> None:
    """systemd's own parser accepts both units without a warning, and the calendar fires every
    5 minutes. The install prefix is pointed at stub executables, since verify checks them."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd): units not verified")
    prefix = _unit(SERVICE)["Service"]["ExecStart"].split()[0].rsplit("/", 1)[0]
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name in ("python", "relayops"):
        (stubs / name).write_text("#!/bin/sh\n")
        (stubs / name).chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for unit in (SERVICE, TIMER):
        (units / unit.name).write_text(unit.read_text().replace(prefix, str(stubs)))
    done = subprocess.run(
        [analyze, "verify", SERVICE.name, TIMER.name],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [line for line in done.stderr.splitlines() if "relayops-rollout-controller" in line]
    assert done.returncode == 0 and not ours, done.stderr

    calendar = subprocess.run(
        [analyze, "calendar", "*:0/5"], capture_output=True, text=True, timeout=30, check=True
    )
    assert "Normalized form: *-*-* *:00/5:00" in calendar.stdout
