"""The HTML diff in a real browser: changed words highlighted, injected markup inert.

Runs headless Debian Chromium through Playwright (``executable_path``; no browser download).
Outside CI the test is skipped when Chromium is missing; in CI (``CI=true``) a missing browser
is a failure, because ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import httpx
import pytest

from tests.events.conftest import EventFactory
from tests.helpers import Actor

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INJECTED = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _browser_or_skip() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("Chromium not installed: apt-get install chromium to run the browser test")
    pytest.importorskip("playwright.async_api")
    return CHROMIUM


async def test_html_diff_in_chromium(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    executable = _browser_or_skip()
    from playwright.async_api import async_playwright

    event = await make_event(owner, title="Weekly team sync")
    update = await client.put(
        f"/api/events/{event['id']}",
        headers=owner.headers,
        json={"title": f"Weekly product sync {INJECTED}", "note": INJECTED},
    )
    assert update.status_code == 200
    page_html = (
        await client.get(
            f"/api/events/{event['id']}/diff/1/2", params={"format": "html"}, headers=owner.headers
        )
    ).text

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = await browser.new_page()
            await page.set_content(page_html, wait_until="load")
            inserted: list[str] = await page.locator("ins.diff-ins").all_inner_texts()
            deleted: list[str] = await page.locator("del.diff-del").all_inner_texts()
            background: Any = await page.locator("ins.diff-ins").first.evaluate(
                "el => getComputedStyle(el).backgroundColor"
            )
            pwned = await page.evaluate("() => window.__pwned")
            visible_text = await page.inner_text("body")
        finally:
            await browser.close()

    assert any("product" in text for text in inserted), inserted
    assert any("team" in text for text in deleted), deleted
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert pwned is None
    assert "<script>window.__pwned = 1</script>" in visible_text  # shown as text, not run
