"""The multi-host rehearsal, short: ``scripts/rehearsal.py`` with three real processes behind
Debian's nginx (deploy/nginx.conf) on PostgreSQL + Redis, one SIGKILLed and one SIGTERMed
under write load, WebSocket feeds reconnecting with ``since``, the brokers' Redis pub/sub
connections cut.

PostgreSQL + Redis run only (SQLite is one host's file). Without nginx the test skips, except
when ``CALENDO_TEST_REQUIRE_DEPLOY_TOOLS=1`` (``.ci/run``), where a missing nginx fails it.
The script checks everything itself and lists what failed under ``problems``; the test holds
it to the figures as well, so a rehearsal that quietly did nothing (no kill, no feed on the
killed process, no write) fails too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKEND
from tests.deploy.tools import require_tool

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BACKEND != "postgres",
        reason="needs three server processes on PostgreSQL + Redis: run with "
        "CALENDO_TEST_BACKEND=postgres, CALENDO_TEST_POSTGRES_URL and CALENDO_TEST_REDIS_URL",
    ),
]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "rehearsal.py"
FEEDS_PER_USER = 2
RATE_LIMIT = 6


@pytest.fixture
def figures(database_url: str, redis_url: str | None, tmp_path: Path) -> dict[str, Any]:
    """One short rehearsal on the run's database (truncated afterwards) and Redis (flushed)."""
    assert redis_url is not None
    nginx = require_tool("nginx")
    output = tmp_path / "figures.json"
    command = [
        sys.executable, str(SCRIPT), "--database-url", database_url, "--redis-url", redis_url,
        "--nginx", nginx, "--json", str(output), "--writers", "4", "--users", "3",
        "--subscribers", str(FEEDS_PER_USER), "--duration", "10", "--kill-at", "2",
        "--term-at", "4", "--drop-pubsub-at", "6", "--settle", "20",
        "--rate-limit", str(RATE_LIMIT),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert output.exists(), result.stdout + result.stderr
    loaded: dict[str, Any] = json.loads(output.read_text())
    assert result.returncode == 0, loaded["problems"] or result.stderr
    return loaded


def test_three_processes_behind_nginx_survive_a_kill_and_a_graceful_stop(
    figures: dict[str, Any],
) -> None:
    """One test, one rehearsal: starting the processes is most of its cost."""
    assert figures["problems"] == []
    assert figures["processes"] == 3
    timeline = set(figures["timeline"])
    assert {
        "sigkill_at_s",
        "sigterm_at_s",
        "sigterm_exit_after_s",
        "pubsub_dropped_at_s",
    } <= timeline
    # Writes: acknowledged ones all stored and served (the script's checks), and none from
    # the application answered 5xx; nginx's 502 only for a write in flight on a dead process.
    assert figures["creates_acknowledged"] > 0 and figures["updates_acknowledged"] > 0
    assert figures["writes_lost"] == 0
    assert not {"500", "503"} & set(figures["statuses"])
    assert set(figures["unacknowledged"]) <= {
        "POST create (502)", "PUT update (502)", "POST create (connection failed)",
        "PUT update (connection failed)",
    }  # fmt: skip
    # Feeds: the killed process's sockets dropped without a close frame, the stopped one's
    # got 1001, every feed reconnected with since; the brokers' Redis pub/sub connections
    # were cut under load; every feed holds every stored notification all the same.
    codes = figures["feed_close_codes"]
    assert "1001" in codes and any(code.startswith("1006") for code in codes), codes
    assert figures["reconnects"] >= 2
    assert figures["pubsub_connections_cut"] >= 1
    assert figures["notifications_stored"] > 0
    assert figures["notifications_delivered"] == FEEDS_PER_USER * figures["notifications_stored"]
    # A logout through the load balancer holds on each process, asked directly; a low
    # per-user limit allows exactly that many requests in all, spread over the three.
    revocation = figures["revocation"]
    assert revocation["me_before"] == [200, 200, 200]
    assert revocation["logout"] == 204
    assert revocation["me_after"] == [401, 401, 401]
    assert revocation["refresh_after"] == [401, 401, 401]
    assert all(code in (4401, 1008) for code in revocation["feed_after"])
    limit = figures["rate_limit"]
    assert limit["allowed"] == RATE_LIMIT and limit["refused_429"] == 2 * RATE_LIMIT
    assert limit["other"] == []
    served_by = set(limit["allowed_by_process"]) | set(limit["refused_by_process"])
    assert len(served_by) == 3
