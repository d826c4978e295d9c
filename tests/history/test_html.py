"""Tests for calendo.history.html: the standalone diff page."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

from calendo.history.diff import diff_snapshots
from calendo.history.html import DiffSide, render_diff_html

XSS = "<script>alert(1)</script>"

OLD: dict[str, Any] = {
    "title": "Weekly team standup",
    "description": "Bring your notes",
    "start_time": "2026-03-20T10:00:00Z",
    "end_time": "2026-03-20T10:30:00Z",
    "timezone": "UTC",
    "location": "Room 2",
    "is_recurring": False,
    "recurrence_pattern": None,
    "recurrence_exceptions": [],
}
NEW: dict[str, Any] = {
    **OLD,
    "title": "Weekly design standup",
    "start_time": "2026-03-20T11:00:00Z",
    "end_time": "2026-03-20T11:30:00Z",
    "is_recurring": True,
    "recurrence_pattern": "FREQ=WEEKLY;BYDAY=TU,TH",
}


def side(version: int, **fields: Any) -> DiffSide:
    """Build a DiffSide with sensible defaults."""
    values: dict[str, Any] = {
        "version": version,
        "author": "alice",
        "created_at": "2026-03-19T08:00:00Z",
        "summary": "created “Weekly team standup”",
        "note": None,
        "action": "updated",
    }
    values.update(fields)
    return DiffSide(**values)


def render(
    old: dict[str, Any] = OLD,
    new: dict[str, Any] = NEW,
    *,
    event_title: str = "Weekly design standup",
    old_side: DiffSide | None = None,
    new_side: DiffSide | None = None,
    prev_href: str | None = "/events/7/history/1/diff",
    next_href: str | None = "/events/7/history/3/diff",
) -> str:
    """Render the page for two snapshots."""
    return render_diff_html(
        event_title=event_title,
        event_id=7,
        old=old_side or side(2),
        new=new_side or side(3, author="bob", summary="renamed", note="Moved to the design room"),
        changes=diff_snapshots(old, new),
        old_snapshot=old,
        new_snapshot=new,
        prev_href=prev_href,
        next_href=next_href,
    )


class _TagChecker(HTMLParser):
    """Collect unbalanced tags; void elements need no end tag."""

    VOID = frozenset({"meta", "br", "col", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


# --- page structure ----------------------------------------------------------------


def test_is_a_complete_html5_page() -> None:
    page = render()
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<title>Changes to “Weekly design standup”: version 2 → 3</title>" in page
    assert page.rstrip().endswith("</html>")


def test_tags_are_balanced() -> None:
    checker = _TagChecker()
    checker.feed(render())
    checker.close()
    assert checker.errors == []
    assert checker.stack == []


def test_has_a_content_security_policy_forbidding_scripts() -> None:
    page = render()
    match = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert match is not None
    assert match.group(1).startswith("default-src 'none'; style-src 'unsafe-inline'")
    # The policy must come before anything it is meant to govern.
    assert page.index("Content-Security-Policy") < page.index("<style>")


def test_is_self_contained() -> None:
    page = render()
    assert "http://" not in page
    assert "https://" not in page
    for forbidden in ("<script", "<link", "<img", "<iframe", "src=", "@import", "url("):
        assert forbidden not in page


def test_side_headers_show_version_metadata() -> None:
    page = render()
    assert "<h2>Version 2" in page
    assert "<h2>Version 3" in page
    assert "<strong>bob</strong>" in page
    assert '<time datetime="2026-03-19T08:00:00Z">Thu 19 Mar 2026, 08:00 UTC</time>' in page
    assert "Moved to the design room" in page
    assert ">Edited</span>" in page


def test_prev_and_next_links_only_when_given() -> None:
    page = render()
    assert '<a href="/events/7/history/1/diff" rel="prev">' in page
    assert '<a href="/events/7/history/3/diff" rel="next">' in page
    bare = render(prev_href=None, next_href=None)
    assert 'rel="prev"' not in bare
    assert 'rel="next"' not in bare


def test_script_links_are_dropped() -> None:
    page = render(prev_href="javascript:alert(1)", next_href=" JaVa\tScRiPt:alert(1)")
    assert "alert(1)" not in page
    assert "<a " not in page


# --- diff table ----------------------------------------------------------------------


def test_one_row_group_per_changed_field() -> None:
    page = render()
    assert page.count("<tbody>") == len(diff_snapshots(OLD, NEW)) == 5
    for label in ("Title", "Starts", "Ends", "Repeats", "Recurrence rule"):
        assert f'scope="rowgroup">{label} ' in page


def test_changed_words_are_highlighted() -> None:
    page = render()
    assert '<del class="diff-del">team</del>' in page
    assert '<ins class="diff-ins">design</ins>' in page
    # Unchanged words stay plain on both sides.
    assert page.count('<span class="diff-text">Weekly <') == 2


def test_whole_values_are_highlighted_for_non_text_fields() -> None:
    page = render()
    assert '<del class="diff-del"><time datetime="2026-03-20T10:00:00Z">' in page
    assert '<ins class="diff-ins"><time datetime="2026-03-20T11:00:00Z">' in page
    assert '<del class="diff-del">no</del>' in page
    assert '<ins class="diff-ins">yes</ins>' in page


def test_added_value_shows_placeholder_on_the_old_side() -> None:
    page = render(new={**NEW, "recurrence_exceptions": ["2026-03-24T10:00:00Z"]})
    assert '<span class="diff-empty">(empty)</span>' in page
    assert '<li><ins class="diff-ins"><time datetime="2026-03-24T10:00:00Z">' in page


def test_recurrence_rule_is_explained() -> None:
    assert "repeats weekly on Tue, Thu" in render()


def test_unchanged_fields_are_collapsed() -> None:
    page = render()
    match = re.search(r"<details[^>]*><summary>(\d+) unchanged fields</summary>", page)
    assert match is not None
    # The snapshots predate transparency, RDATEs, overrides and all-day dates: they show the
    # defaults, unchanged.
    assert match.group(1) == "10"
    details = page[page.index("<details") :]
    assert "<dt>Free/busy</dt><dd>busy (opaque)</dd>" in details
    assert "<dt>Extra dates</dt>" in details
    assert "<dt>Description</dt>" in details
    assert "Bring your notes" in details
    assert "<dt>Title</dt>" not in details


def test_no_changes() -> None:
    page = render(new=copy.deepcopy(OLD))
    assert "No content changes between these versions." in page
    assert "<table" not in page
    assert "<summary>15 unchanged fields</summary>" in page


# --- escaping ------------------------------------------------------------------------


def test_user_supplied_text_is_escaped_everywhere() -> None:
    new = {**OLD, "title": XSS, "description": f"a {XSS}", "location": XSS}
    page = render(
        new=new,
        event_title=XSS,
        old_side=side(2, author=XSS, note=XSS, summary=XSS, action=XSS),
        new_side=side(3, author=XSS, note=XSS, summary=XSS, created_at=XSS),
        prev_href='/x"><script>alert(1)</script>',
    )
    assert "<script" not in page
    assert "</script" not in page
    assert "&lt;script&gt;" in page
    assert 'href="/x&quot;&gt;&lt;script&gt;' in page


def test_attribute_values_cannot_break_out() -> None:
    page = render(new={**OLD, "start_time": '"><b onclick=x>'}, old=OLD)
    assert "<b onclick" not in page
    assert "&quot;&gt;&lt;b onclick=x&gt;" in page


# --- times in the event's own zone -------------------------------------------------------

# An 18:00 Berlin rehearsal (CET, UTC+1) moved to 19:00; stored instants are UTC.
BERLIN_OLD: dict[str, Any] = {
    **OLD,
    "title": "Rehearsal",
    "start_time": "2026-03-12T17:00:00Z",
    "end_time": "2026-03-12T18:30:00Z",
    "timezone": "Europe/Berlin",
}
BERLIN_NEW: dict[str, Any] = {
    **BERLIN_OLD,
    "start_time": "2026-03-12T18:00:00Z",
    "end_time": "2026-03-12T19:30:00Z",
}


def test_times_speak_the_events_own_zone() -> None:
    page = render(BERLIN_OLD, BERLIN_NEW, event_title="Rehearsal")
    assert (
        '<del class="diff-del"><time datetime="2026-03-12T17:00:00Z">'
        "Thu 12 Mar 2026, 18:00 Europe/Berlin</time></del>"
    ) in page
    assert (
        '<ins class="diff-ins"><time datetime="2026-03-12T18:00:00Z">'
        "Thu 12 Mar 2026, 19:00 Europe/Berlin</time></ins>"
    ) in page
    # The version headers are on the same clock (08:00 UTC is 09:00 in Berlin).
    assert (
        '<time datetime="2026-03-19T08:00:00Z">Thu 19 Mar 2026, 09:00 Europe/Berlin</time>' in page
    )
    assert " UTC<" not in page


def test_summer_time_keeps_the_wall_clock() -> None:
    # 29 Mar 2026 Berlin moves to CEST (UTC+2): the same 18:00 is now 16:00 UTC.
    summer = {
        **BERLIN_OLD,
        "start_time": "2026-04-02T16:00:00Z",
        "end_time": "2026-04-02T17:30:00Z",
    }
    page = render(BERLIN_OLD, summer, event_title="Rehearsal")
    assert (
        '<time datetime="2026-04-02T16:00:00Z">Thu 2 Apr 2026, 18:00 Europe/Berlin</time>' in page
    )
    assert (
        '<time datetime="2026-03-12T17:00:00Z">Thu 12 Mar 2026, 18:00 Europe/Berlin</time>' in page
    )


def test_an_old_version_in_another_zone_speaks_its_zone() -> None:
    # Version 2 was in New York (EDT, UTC-4): the same instant reads 13:00 there.
    new_york = {**BERLIN_OLD, "timezone": "America/New_York"}
    page = render(new_york, BERLIN_NEW, event_title="Rehearsal")
    old_cells = re.findall(r'<td class="diff-old"[^>]*>(.*?)</td>', page)
    new_cells = re.findall(r'<td class="diff-new"[^>]*>(.*?)</td>', page)
    assert any("Thu 12 Mar 2026, 13:00 America/New_York" in cell for cell in old_cells)
    assert any("Thu 12 Mar 2026, 19:00 Europe/Berlin" in cell for cell in new_cells)
    assert not any("Europe/Berlin</time>" in cell for cell in old_cells)
    # Each header on its version's clock, and the zone change says how to read the columns.
    assert "Thu 19 Mar 2026, 04:00 America/New_York</time>" in page
    assert "Thu 19 Mar 2026, 09:00 Europe/Berlin</time>" in page
    assert "Times in each column are shown in that version&#x27;s time zone." in page
