"""Security suite: requests under a hang guard, and a summary line per category."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from _pytest.terminal import TerminalReporter
from fastapi import FastAPI

from tests.security.summary import write_summary
from tests.security.support import GuardedClient

CATEGORIES = {
    "tests/security/test_tokens.py": "token attacks",
    "tests/security/test_authz_matrix.py": "authz matrix",
    "tests/security/test_fuzz.py": "fuzz (schemathesis)",
    "tests/security/test_input_limits.py": "input limits",
}


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The suite's client: like the root one, but no request may hang (see ``guarded``)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with GuardedClient(transport=transport, base_url="http://testserver") as c:
        yield c


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """``security: token attacks 39 passed / authz matrix 193 passed / ...``"""
    write_summary(terminalreporter, "security", CATEGORIES)
