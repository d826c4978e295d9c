"""The system programs the deployment tests run (PgBouncer, Redis Sentinel): found, or skipped.

Without them a test skips, so a laptop without Debian's packages runs the rest of the suite.
In CI ``.ci/run`` installs them and sets ``CALENDO_TEST_REQUIRE_DEPLOY_TOOLS=1``: a missing
program is then a failure, never a quiet skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REQUIRED = os.environ.get("CALENDO_TEST_REQUIRE_DEPLOY_TOOLS") == "1"
# Debian puts daemons in /usr/sbin, which is not on every user's PATH.
_SEARCH = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/sbin"))


def require_tool(name: str) -> str:
    """The program's path; skip the test without it (fail when CI requires the tools)."""
    path = shutil.which(name, path=_SEARCH)
    if path is not None:
        return path
    message = f"{name} is not installed (Debian: apt-get install pgbouncer redis-sentinel)"
    if REQUIRED:
        pytest.fail(message)
    pytest.skip(message)


def unprivileged() -> dict[str, Any]:
    """``Popen`` arguments that run a daemon as ``nobody`` when the tests run as root
    (PgBouncer refuses to run as root); none otherwise."""
    if os.geteuid() != 0:
        return {}
    return {"user": pwd.getpwnam("nobody").pw_uid, "group": pwd.getpwnam("nobody").pw_gid}


@contextmanager
def daemon_dir() -> Iterator[Path]:
    """A fresh directory for a daemon's files that ``nobody`` can read and write (pytest's own
    temporary directories sit under a directory only their owner may enter)."""
    path = Path(tempfile.mkdtemp(prefix="calendo-daemon-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``; fail with the log if
    the process exits first or nothing listens within ten seconds."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listens on port {port}: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a daemon the test started, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_redis(binary: str, workdir: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    """A throwaway ``redis-server`` (or ``redis-sentinel`` with a config file as ``args``) on
    127.0.0.1:``port``, logging to ``workdir``; it answers once this returns."""
    log = workdir / f"redis-{port}.log"
    if Path(binary).name == "redis-sentinel":
        command = [binary, *args]
    else:
        command = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            *args,
        ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    wait_for_port(port, process, log)
    return process
