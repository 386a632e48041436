"""Tests for scripts/bootstrap-tools.sh, which installs the Debian tools relayops drives.

Apart from the check against the real machine, each test runs the script with a PATH
holding only a temporary directory: symlinks to the few programs it needs, stub tools,
and, where a test wants one, a fake apt-get that logs its calls instead of installing.
"""

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = [
    "promtool",
    "prometheus",
    "amtool",
    "prometheus-alertmanager",
    "prometheus-pushgateway",
    "redis-server",
    "redis-cli",
    "chromium",
]
PACKAGES = [
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-pushgateway",
    "redis-server",
    "postgresql",
    "chromium",
]

FAKE_APT_GET = """\
import os
import sys
from pathlib import Path

with open(os.environ["FAKE_APT_LOG"], "a") as log:
    log.write(" ".join([os.environ.get("DEBIAN_FRONTEND", "-"), *sys.argv[1:]]) + "\\n")
if os.environ.get("FAKE_APT_FAIL"):
    sys.exit(100)
if sys.argv[1] == "install":
    for name in os.environ["FAKE_APT_PROVIDES"].split():
        tool = Path(os.environ["FAKE_APT_BIN"]) / name
        tool.write_text("#!/bin/sh\\n")
        tool.chmod(0o755)
"""

FAKE_SUDO = """\
import os
import sys

command = sys.argv[1:]
while command[0].startswith("-"):
    del command[0]
os.execvp(command[0], command)
"""


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def script(repo_root: Path) -> Path:
    return repo_root / "scripts" / "bootstrap-tools.sh"


@pytest.fixture
def bare_bin(tmp_path: Path) -> Path:
    """A directory to be the whole PATH, with only bash, env and true in it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("bash", "env", "true"):
        found = shutil.which(program)
        assert found is not None, f"{program} is needed to run the script"
        (bin_dir / program).symlink_to(found)
    return bin_dir


def _add_stub_tools(bin_dir: Path, names: list[str]) -> None:
    for name in names:
        _write_executable(bin_dir / name, "#!/bin/sh\n")


def _add_fake_apt_get(bin_dir: Path) -> None:
    _write_executable(bin_dir / "apt-get", f"#!{sys.executable}\n{FAKE_APT_GET}")
    _write_executable(bin_dir / "sudo", f"#!{sys.executable}\n{FAKE_SUDO}")


def _run(script: Path, bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(script), *args],
        env={"PATH": str(bin_dir), "FAKE_APT_BIN": str(bin_dir), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _apt_calls(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()]


def test_check_passes_on_this_machine(script: Path) -> None:
    result = subprocess.run(
        [str(script), "--check"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""


def test_entry_points_are_executable(repo_root: Path, script: Path) -> None:
    for path in (script, repo_root / ".ci" / "run"):
        mode = path.stat().st_mode
        assert mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH), f"{path} is not executable"


@pytest.mark.parametrize("args", [[], ["--check"]])
def test_without_apt_get_names_missing_tools_and_fails(
    script: Path, bare_bin: Path, args: list[str]
) -> None:
    result = _run(script, bare_bin, *args)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "bootstrap-tools: missing: " + " ".join(TOOLS)


def test_without_apt_get_says_what_to_install_instead(script: Path, bare_bin: Path) -> None:
    result = _run(script, bare_bin)
    assert result.returncode == 1
    assert "apt-get is not available" in result.stderr
    for upstream in ("Prometheus 2.42.0", "Alertmanager 0.25.0", "Pushgateway 1.5.1"):
        assert upstream in result.stderr
    assert "Redis 7.0.15" in result.stderr
    assert "PATH" in result.stderr


def test_check_reports_only_missing_tools_and_installs_nothing(
    script: Path, bare_bin: Path, tmp_path: Path
) -> None:
    _add_stub_tools(bare_bin, [t for t in TOOLS if t not in ("amtool", "redis-cli")])
    _add_fake_apt_get(bare_bin)
    log = tmp_path / "apt.log"
    result = _run(script, bare_bin, "--check", FAKE_APT_LOG=str(log), FAKE_APT_PROVIDES="")
    assert result.returncode == 1
    assert result.stderr == "bootstrap-tools: missing: amtool redis-cli\n"
    assert not log.exists()


def test_installs_missing_tools_with_apt_get_once(
    script: Path, bare_bin: Path, tmp_path: Path
) -> None:
    _add_stub_tools(bare_bin, ["promtool", "prometheus"])
    _add_fake_apt_get(bare_bin)
    log = tmp_path / "apt.log"
    apt_env = {"FAKE_APT_LOG": str(log), "FAKE_APT_PROVIDES": " ".join(TOOLS)}

    first = _run(script, bare_bin, **apt_env)
    assert first.returncode == 0, first.stderr
    update, install = _apt_calls(log)
    assert update[:2] == ["noninteractive", "update"]
    assert install[:2] == ["noninteractive", "install"]
    assert {"-y", "--no-install-recommends"} <= set(install)
    assert install[-len(PACKAGES) :] == PACKAGES

    again = _run(script, bare_bin, **apt_env)
    assert again.returncode == 0
    assert again.stdout == again.stderr == ""
    assert len(_apt_calls(log)) == 2


def test_fails_when_apt_get_does_not_provide_the_tools(
    script: Path, bare_bin: Path, tmp_path: Path
) -> None:
    _add_fake_apt_get(bare_bin)
    log = tmp_path / "apt.log"
    result = _run(script, bare_bin, FAKE_APT_LOG=str(log), FAKE_APT_PROVIDES="redis-server")
    assert result.returncode == 1
    assert "bootstrap-tools: missing: " + " ".join(t for t in TOOLS if t != "redis-server") in (
        result.stderr.splitlines()
    )
    assert "still missing after apt-get install" in result.stderr


def test_fails_when_apt_get_fails(script: Path, bare_bin: Path, tmp_path: Path) -> None:
    _add_fake_apt_get(bare_bin)
    log = tmp_path / "apt.log"
    result = _run(script, bare_bin, FAKE_APT_LOG=str(log), FAKE_APT_PROVIDES="", FAKE_APT_FAIL="1")
    assert result.returncode == 1
    assert "apt-get failed" in result.stderr
    assert [call[1] for call in _apt_calls(log)] == ["update"]
