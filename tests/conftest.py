"""Fixtures shared by the test suite: the shipped specs, the repository root, the Prometheus
tools, and the OAuth fixtures."""

import os
import shutil
from pathlib import Path

import httpx
import pytest

from relayops.spec import SpecSet, load_specs
from relayops.spec.env import CACHE_DIR
from tests.specs_util import SPECS

REPO_ROOT = Path(__file__).resolve().parent.parent

# The OAuth fixtures (a real redis-server and PostgreSQL, the fake token endpoint, token stores)
# for every module that asks for them by name.
pytest_plugins = ("tests.oauth_fixtures", "tests.postgres")


def _installed_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(
            f"{name} not installed and cannot be installed here: run scripts/bootstrap-tools.sh"
        )
    return os.path.abspath(found)


@pytest.fixture(scope="session", autouse=True)
def simulation_cache(tmp_path_factory):
    """Simulated scenarios are cached for this session only, never in the user's cache: the
    commands tests run in subprocesses inherit the variable."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR, str(tmp_path_factory.mktemp("simulations")))
        yield


@pytest.fixture(scope="module")
def specs() -> SpecSet:
    """The shipped specs, loaded once per test module."""
    return load_specs(SPECS)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """Absolute path of the repository checkout."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def promtool() -> str:
    """Absolute path of promtool; the test is skipped only when it is not on PATH."""
    return _installed_tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    """Absolute path of amtool; the test is skipped only when it is not on PATH."""
    return _installed_tool("amtool")


@pytest.fixture
def http_clients_made(monkeypatch) -> list[httpx.Client]:
    """Every httpx.Client made during the test. Making one loads the CA bundle (about 40 ms of
    CPU), so code that polls must reuse one."""
    made: list[httpx.Client] = []
    original = httpx.Client.__init__

    def counting(self: httpx.Client, *args: object, **kwargs: object) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", counting)
    return made
