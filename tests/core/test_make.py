"""The Makefile: `make run` installs only what serving needs, the dev tools come with the rest."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_TOOLS = ("pytest", "playwright", "schemathesis", "mypy", "ruff", "hypothesis")


def _dry_run(target: str, venv: Path) -> str:
    """What ``make TARGET`` would run against the venv at ``venv`` (nothing is executed)."""
    result = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", target, f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _installs(output: str) -> list[str]:
    return [line for line in output.splitlines() if " pip install " in line]


def _checksum() -> str:
    data = (ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()
    result = subprocess.run(["cksum"], input=data, capture_output=True, check=True)
    return result.stdout.split()[0].decode()


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def test_run_installs_the_runtime_dependencies_only(tmp_path: Path) -> None:
    installs = _installs(_dry_run("run", tmp_path / "venv"))
    assert installs, "make run installs into a fresh venv"
    assert not any("[dev]" in line for line in installs), installs
    assert any(re.search(r" -e \.( |$)", line) for line in installs), installs


@pytest.mark.parametrize("target", ["test", "lint", "bench", "crash-test"])
def test_dev_targets_install_the_dev_extras(tmp_path: Path, target: str) -> None:
    installs = _installs(_dry_run(target, tmp_path / "venv"))
    assert any("'.[dev]'" in line for line in installs), installs


def test_serve_and_dev_installs_have_their_own_stamps(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / f".installed-serve-{_checksum()}").touch()
    assert _installs(_dry_run("run", venv)) == []
    assert _installs(_dry_run("test", venv)), "the serve stamp does not stand for the dev tools"
    (venv / f".installed-dev-{_checksum()}").touch()
    assert _installs(_dry_run("test", venv)) == []


def test_a_changed_pyproject_or_constraints_reinstalls(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed-serve-1").touch()  # the stamp of other contents
    (venv / ".installed-dev-1").touch()
    assert _installs(_dry_run("run", venv))
    assert _installs(_dry_run("test", venv))


def test_every_dependency_has_an_exact_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!]+", line), line
        name, version = line.split("==")
        pins[_name(name)] = version
    runtime = [_name(r) for r in project["project"]["dependencies"]]
    dev = [_name(r) for r in project["project"]["optional-dependencies"]["dev"]]
    build = [_name(r) for r in project["build-system"]["requires"]]
    for name in [*runtime, *dev, *build, "uv"]:
        assert name in pins, f"{name} is not pinned in constraints.txt"
    assert "import-linter" in dev
    assert not set(DEV_TOOLS) & set(runtime)
