"""Self-contained HTML page comparing two versions of an event.

The layout follows MediaWiki's diff view: a header per version, then a
two-column table with one row group per changed field (old value left, new
value right), changed words highlighted with ``<del class="diff-del">`` and
``<ins class="diff-ins">``, and the unchanged fields folded into a
``<details>`` element.

Times are shown on the wall clock of their version's own ``timezone`` (the old
column in the old version's zone, the new column and the header of each
version in theirs), each followed by the zone's name; the ``datetime``
attribute keeps the stored instant.

Safety: every user-supplied string goes through ``html.escape(quote=True)``;
links with a scheme other than http(s) are dropped; and the page carries a
Content-Security-Policy that forbids scripts and any external resource, so
even a missed escape could not run code.  There are no external assets.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from calendo.history.diff import (
    CONTENT_FIELDS,
    DIFF_BUDGET,
    FIELD_DEFAULTS,
    TEXT_FIELDS,
    field_value,
    is_empty,
    text_diff,
)
from calendo.history.matcher import Budget
from calendo.history.rule_prose import describe_rule
from calendo.history.summary import describe_instant, format_date, parse_instant, zone_name

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)

_FIELD_LABELS = {
    "title": "Title",
    "description": "Description",
    "start_time": "Starts",
    "end_time": "Ends",
    "timezone": "Time zone",
    "location": "Location",
    "is_recurring": "Repeats",
    "recurrence_pattern": "Recurrence rule",
    "recurrence_exceptions": "Exceptions",
    "recurrence_dates": "Extra dates",
    "transparency": "Free/busy",
    "recurrence_overrides": "Single-occurrence edits",
    "all_day": "All day",
    "start_date": "First date",
    "end_date": "Ends before (exclusive)",
}
_TIME_FIELDS = ("start_time", "end_time", "recurrence_exceptions", "recurrence_dates")
_DATE_FIELDS = ("start_date", "end_date")
_TRANSPARENCY_TEXTS = {"opaque": "busy (opaque)", "transparent": "free (transparent)"}
# Shown under a field whose word diff was over the work budget (diff.DIFF_BUDGET).
_GRANULARITY_NOTES = {
    "line": "Too many changes to compare word by word: changed lines are highlighted.",
    "field": "Too many changes to compare word by word: the whole text is highlighted.",
}
_ZONE_CHANGE_NOTE = "Times in each column are shown in that version's time zone."
_ACTION_LABELS = {
    "created": "Created",
    "updated": "Edited",
    "deleted": "Deleted",
    "restored": "Restored",
    "rolled_back": "Rolled back",
}
# A URL scheme, read the way browsers do after dropping whitespace/controls.
_SCHEME_RE = re.compile(r"([a-z][a-z0-9+.\-]*):")
_IGNORED_URL_CHARS_RE = re.compile(r"[\x00-\x20\x7f]")

# Colours follow MediaWiki (#d8ecff for insertions, a light red for deletions);
# the system font stack avoids loading any font.
_STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; color: #202122; background: #fff;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    sans-serif;
}
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 .25rem; overflow-wrap: anywhere; }
a { color: #36c; }
.diff-sub, .diff-meta { color: #54595d; }
.diff-sub { margin: 0 0 1rem; }
.diff-sides {
  display: grid; gap: 1rem; margin-bottom: 1.5rem;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 18rem), 1fr));
}
.diff-side {
  border: 1px solid #c8ccd1; border-left-width: 4px; border-radius: 2px;
  padding: .75rem 1rem; overflow-wrap: anywhere;
}
.diff-side h2 { font-size: 1.125rem; margin: 0 0 .25rem; }
.diff-side p { margin: .25rem 0; }
.diff-side-old, .diff-old { border-left-color: #f3a6a0; }
.diff-side-new, .diff-new { border-left-color: #a3d3ff; }
.diff-badge {
  display: inline-block; margin-left: .25rem; padding: 0 .4em; border-radius: 2px;
  background: #eaecf0; font-size: .75rem; font-weight: 600; vertical-align: middle;
}
.diff-meta { font-size: .875rem; }
.diff-summary { font-style: italic; }
.diff-note { white-space: pre-wrap; }
table.diff { width: 100%; table-layout: fixed; border-collapse: separate; border-spacing: .5rem 0; }
.diff th[scope="col"] { text-align: left; font-size: .875rem; color: #54595d; padding: 0 .75rem; }
.diff-field {
  text-align: left; font-size: .875rem; font-weight: 600; padding: 1rem 0 .25rem;
}
.diff-op { font-weight: 400; color: #54595d; }
.diff td {
  vertical-align: top; padding: .5rem .75rem; border: 1px solid #eaecf0;
  border-left-width: 4px; border-radius: 2px; overflow-wrap: anywhere;
}
.diff .diff-old { border-left-color: #f3a6a0; }
.diff .diff-new { border-left-color: #a3d3ff; }
.diff-text { white-space: pre-wrap; }
del.diff-del, ins.diff-ins {
  text-decoration: none; font-weight: 600; border-radius: 2px; padding: .1em 0;
}
del.diff-del { background: #ffdcd9; }
ins.diff-ins { background: #d8ecff; }
.diff-empty { color: #72777d; font-style: italic; }
.diff-hint { color: #54595d; font-size: .875rem; }
.diff-list { margin: 0; padding-left: 1.25rem; }
code {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .875em; background: #f8f9fa; padding: 0 .2em; overflow-wrap: anywhere;
}
.diff-nochange { padding: 1rem; background: #f8f9fa; border-radius: 2px; }
.diff-unchanged { margin-top: 1.5rem; }
.diff-unchanged summary { cursor: pointer; color: #36c; }
.diff-unchanged dl { margin: .5rem 0 0; overflow-wrap: anywhere; }
.diff-unchanged dt { font-size: .875rem; font-weight: 600; color: #54595d; }
.diff-unchanged dd { margin: 0 0 .5rem; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap;
}
@media (max-width: 40rem) {
  main { padding: .75rem; }
  table.diff, .diff tbody, .diff tr, .diff th, .diff td { display: block; width: auto; }
  .diff thead { display: none; }
  .diff td + td { margin-top: .25rem; }
  .diff td::before {
    content: attr(data-label); display: block; font-size: .75rem; color: #54595d;
  }
}
""".strip()


@dataclass(frozen=True)
class DiffSide:
    """Metadata of one of the two compared versions."""

    version: int
    author: str
    created_at: str
    summary: str
    note: str | None
    action: str


def _e(value: object) -> str:
    """Escape any value for use in HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _safe_href(href: str | None) -> str | None:
    """Return href unless it is empty or uses a non-http(s) scheme (javascript:, data:)."""
    if not href:
        return None
    match = _SCHEME_RE.match(_IGNORED_URL_CHARS_RE.sub("", href).lower())
    if match and match.group(1) not in ("http", "https"):
        return None
    return href


def _label(field: str) -> str:
    """Return the display name of a field."""
    return _FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def _time(value: str, zone: str) -> str:
    """Render an RFC 3339 time as a readable <time> on the wall clock of ``zone``, or as plain
    text if invalid."""
    try:
        readable = describe_instant(parse_instant(value), zone)
    except (TypeError, ValueError):
        return _e(value)
    return f'<time datetime="{_e(value)}">{_e(readable)}</time>'


def _override_text(value: Mapping[str, Any], zone: str) -> str:
    """One override as a line: its occurrence, then what it has of its own."""
    parts = []
    for key, label in (("start_time", "starts"), ("end_time", "ends")):
        if isinstance(value.get(key), str):
            parts.append(f"{label} {_readable_time(value[key], zone)}")
    for key in ("title", "description", "location"):
        if key in value:
            parts.append(f"{key} “{value[key]}”")
    if value.get("transparency") in _TRANSPARENCY_TEXTS:
        parts.append(_TRANSPARENCY_TEXTS[value["transparency"]])
    name = _readable_time(str(value.get("recurrence_id")), zone)
    return f"{name}: {'; '.join(parts) or 'as the series'}"


def _readable_time(value: str, zone: str) -> str:
    try:
        return describe_instant(parse_instant(value), zone)
    except (TypeError, ValueError):
        return value


def _is_date(value: Any) -> bool:
    """Whether a value is an ISO date (``2026-03-16``), as all-day events store theirs."""
    try:
        return isinstance(value, str) and len(value) == 10 and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _empty(value: Any) -> str:
    """Render a placeholder for None, "" or []."""
    text = "(none)" if value is None else "(empty)"
    return f'<span class="diff-empty">{text}</span>'


def _item(field: str, value: Any, zone: str) -> str:
    """Render one scalar value of a field (times in ``zone``)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "recurrence_overrides" and isinstance(value, Mapping):
        return f'<span class="diff-text">{_e(_override_text(value, zone))}</span>'
    if (field in _TIME_FIELDS or field in _DATE_FIELDS) and _is_date(value):
        return _e(format_date(date.fromisoformat(value)))  # an all-day event's date
    if field in _TIME_FIELDS and isinstance(value, str):
        return _time(value, zone)
    if field == "transparency" and value in _TRANSPARENCY_TEXTS:
        return _TRANSPARENCY_TEXTS[value]
    if field == "recurrence_pattern" and isinstance(value, str):
        hint = _e(describe_rule(value))
        return f'<code>{_e(value)}</code><br><span class="diff-hint">{hint}</span>'
    if isinstance(value, str):
        return f'<span class="diff-text">{_e(value)}</span>'
    return _e(value)


def _list(
    field: str,
    values: Sequence[Any],
    zone: str,
    marked: frozenset[Any] = frozenset(),
    tag: str = "del",
) -> str:
    """Render a list as <ul>, wrapping the items in `marked` in a <del> or <ins> `tag`."""
    items = []
    for value in values:
        body = _item(field, value, zone)
        if value in marked:
            body = f'<{tag} class="diff-{tag}">{body}</{tag}>'
        items.append(f"<li>{body}</li>")
    return f'<ul class="diff-list">{"".join(items)}</ul>'


def _value(field: str, value: Any, zone: str) -> str:
    """Render a whole field value without highlighting (times in ``zone``)."""
    if is_empty(value):
        return _empty(value)
    if isinstance(value, list):
        return _list(field, value, zone)
    return _item(field, value, zone)


def _text_side(text_diff: Sequence[Mapping[str, str]], side_op: str, tag: str) -> str:
    """Render one side of a word diff: equal words plus this side's words in <tag>."""
    parts = []
    for chunk in text_diff:
        if chunk["op"] == "equal":
            parts.append(_e(chunk["text"]))
        elif chunk["op"] == side_op:
            parts.append(f'<{tag} class="diff-{tag}">{_e(chunk["text"])}</{tag}>')
    return f'<span class="diff-text">{"".join(parts)}</span>'


def _with_text_diff(change: Mapping[str, Any], budget: Budget) -> Mapping[str, Any]:
    """The change, with a text diff computed within ``budget`` if it is a text field without one."""
    if change["field"] not in TEXT_FIELDS or change.get("text_diff") is not None:
        return change
    chunks, granularity = text_diff(
        str(change.get("old") or ""), str(change.get("new") or ""), budget
    )
    extra = {} if granularity == "word" else {"granularity": granularity}
    return {**change, "text_diff": chunks, **extra}


def _text_cells(change: Mapping[str, Any]) -> tuple[str, str]:
    """Render a text field change with word-level highlighting."""
    old, new = change.get("old"), change.get("new")
    chunks = change["text_diff"]
    left = _empty(old) if is_empty(old) else _text_side(chunks, "delete", "del")
    right = _empty(new) if is_empty(new) else _text_side(chunks, "insert", "ins")
    return left, right


def _list_cells(field: str, old: Any, new: Any, zones: tuple[str, str]) -> tuple[str, str]:
    """Render a list change, marking removed items left and added items right."""
    before, after = list(old or []), list(new or [])
    if field == "recurrence_overrides":  # dicts: compared and shown as their readable text
        before = [_override_text(v, zones[0]) if isinstance(v, Mapping) else v for v in before]
        after = [_override_text(v, zones[1]) if isinstance(v, Mapping) else v for v in after]
    removed, added = frozenset(before) - set(after), frozenset(after) - set(before)
    left = _list(field, before, zones[0], removed, "del") if before else _empty(old)
    right = _list(field, after, zones[1], added, "ins") if after else _empty(new)
    return left, right


def _whole_value_cells(field: str, old: Any, new: Any, zones: tuple[str, str]) -> tuple[str, str]:
    """Render a change of a non-text value, highlighting each side as a whole."""
    left = (
        _empty(old)
        if is_empty(old)
        else f'<del class="diff-del">{_value(field, old, zones[0])}</del>'
    )
    right = (
        _empty(new)
        if is_empty(new)
        else f'<ins class="diff-ins">{_value(field, new, zones[1])}</ins>'
    )
    return left, right


def _cells(change: Mapping[str, Any], zones: tuple[str, str]) -> tuple[str, str]:
    """Render the old and new cells of one changed field (each side's times in its zone)."""
    field, old, new = str(change["field"]), change.get("old"), change.get("new")
    if field in TEXT_FIELDS:
        return _text_cells(change)
    if isinstance(old, list) or isinstance(new, list):
        return _list_cells(field, old, new, zones)
    return _whole_value_cells(field, old, new, zones)


def _change_rows(
    change: Mapping[str, Any], old: DiffSide, new: DiffSide, zones: tuple[str, str]
) -> str:
    """Render the row group (field heading plus old/new cells) of one change."""
    field = str(change["field"])
    left, right = _cells(change, zones)
    op = str(change.get("op", "changed"))
    note = _GRANULARITY_NOTES.get(str(change.get("granularity")))
    if field == "timezone":
        note = _ZONE_CHANGE_NOTE
    hint = f'<br><span class="diff-hint diff-degraded">{_e(note)}</span>' if note else ""
    return (
        "<tbody>"
        f'<tr><th class="diff-field" colspan="2" scope="rowgroup">{_e(_label(field))} '
        f'<span class="diff-op">({_e(op)})</span>{hint}</th></tr>'
        f'<tr><td class="diff-old" data-label="Version {_e(old.version)}">{left}</td>'
        f'<td class="diff-new" data-label="Version {_e(new.version)}">{right}</td></tr>'
        "</tbody>"
    )


def _changes_table(
    changes: Sequence[Mapping[str, Any]], old: DiffSide, new: DiffSide, zones: tuple[str, str]
) -> str:
    """Render the two-column table of changed fields, or a note when there are none."""
    if not changes:
        return '<p class="diff-nochange">No content changes between these versions.</p>'
    # Text diffs missing from the changes share one budget, like a diff_snapshots call.
    budget = Budget(DIFF_BUDGET)
    rows = "\n".join(
        _change_rows(_with_text_diff(change, budget), old, new, zones) for change in changes
    )
    return (
        '<table class="diff">\n'
        '<caption class="visually-hidden">Changed fields</caption>\n'
        "<colgroup><col><col></colgroup>\n"
        f'<thead><tr><th scope="col">Version {_e(old.version)}</th>'
        f'<th scope="col">Version {_e(new.version)}</th></tr></thead>\n'
        f"{rows}\n"
        "</table>"
    )


def _unchanged(changes: Sequence[Mapping[str, Any]], snapshot: Mapping[str, Any]) -> str:
    """Render the fields that did not change, collapsed in a <details> element."""
    changed = {change["field"] for change in changes}
    # A snapshot older than a field (diff.FIELD_DEFAULTS) shows its default.
    fields = [
        f for f in CONTENT_FIELDS if f not in changed and (f in snapshot or f in FIELD_DEFAULTS)
    ]
    if not fields:
        return ""
    noun = "field" if len(fields) == 1 else "fields"
    zone = zone_name(snapshot)
    items = "".join(
        f"<dt>{_e(_label(f))}</dt><dd>{_value(f, field_value(snapshot, f), zone)}</dd>"
        for f in fields
    )
    return (
        f'<details class="diff-unchanged"><summary>{len(fields)} unchanged {noun}</summary>'
        f"<dl>{items}</dl></details>"
    )


def _nav_link(href: str | None, rel: str, text: str) -> str:
    """Render a previous/next link paragraph, or nothing for a missing or unsafe href."""
    safe = _safe_href(href)
    if safe is None:
        return ""
    return f'<p class="diff-nav"><a href="{_e(safe)}" rel="{rel}">{text}</a></p>'


def _side(side: DiffSide, css: str, nav: str, zone: str) -> str:
    """Render the header block describing one version (its time in that version's zone)."""
    action = _ACTION_LABELS.get(side.action, side.action.replace("_", " ").capitalize())
    note = f'<p class="diff-note"><strong>Note:</strong> {_e(side.note)}</p>' if side.note else ""
    summary = f'<p class="diff-summary">{_e(side.summary)}</p>' if side.summary else ""
    return (
        f'<section class="diff-side {css}">'
        f'<h2>Version {_e(side.version)}<span class="diff-badge">{_e(action)}</span></h2>'
        f'<p class="diff-meta">by <strong>{_e(side.author)}</strong> · '
        f"{_time(side.created_at, zone)}</p>"
        f"{summary}{note}{nav}</section>"
    )


def render_diff_html(
    *,
    event_title: str,
    event_id: int,
    old: DiffSide,
    new: DiffSide,
    changes: Sequence[Mapping[str, Any]],
    old_snapshot: Mapping[str, Any],
    new_snapshot: Mapping[str, Any],
    prev_href: str | None,
    next_href: str | None,
) -> str:
    """Render a complete HTML5 page comparing two versions of an event."""
    # The changes carry every old value; old_snapshot gives the old version's time zone.
    title = _e(event_title)
    zones = (zone_name(old_snapshot), zone_name(new_snapshot))
    prev_link = _nav_link(prev_href, "prev", "← Previous change")
    next_link = _nav_link(next_href, "next", "Next change →")
    sides = _side(old, "diff-side-old", prev_link, zones[0])
    sides += _side(new, "diff-side-new", next_link, zones[1])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>Changes to “{title}”: version {_e(old.version)} → {_e(new.version)}</title>
<style>
{_STYLE}
</style>
</head>
<body>
<main>
<h1>Changes to “{title}”</h1>
<p class="diff-sub">Event {_e(event_id)} · version {_e(old.version)} → version {_e(new.version)}</p>
<div class="diff-sides">{sides}</div>
{_changes_table(changes, old, new, zones)}
{_unchanged(changes, new_snapshot)}
</main>
</body>
</html>
"""
