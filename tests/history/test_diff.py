"""Tests for calendo.history.diff: field diffs and word diffs, checked with the oracles
(apply and reverse) of tests/history/oracles.py."""

from __future__ import annotations

import copy
import itertools
from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.history.diff import (
    CONTENT_FIELDS,
    TEXT_FIELDS,
    changed_fields,
    diff_snapshots,
    word_diff,
)
from tests.history.oracles import apply_changes, reverse

PROPERTY = settings(max_examples=100, deadline=None, database=None)

BASE: dict[str, Any] = {
    "title": "Weekly team standup",
    "description": None,
    "start_time": "2026-03-20T10:00:00Z",
    "end_time": "2026-03-20T10:30:00Z",
    "timezone": "Europe/Paris",
    "location": "Room 2",
    "is_recurring": False,
    "recurrence_pattern": None,
    "recurrence_exceptions": [],
    "recurrence_dates": [],
    "transparency": "opaque",
    "recurrence_overrides": [],
    "all_day": False,
    "start_date": None,
    "end_date": None,
}

# --- strategies ------------------------------------------------------------------

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")
)
texts = st.text(max_size=30) | st.sampled_from(["", "Standup", "Daily sync", "Room 4"])
optional_texts = st.none() | texts


def overrides() -> st.SearchStrategy[dict[str, Any]]:
    """Stored single-occurrence overrides: a recurrence id and some fields of its own."""
    return st.fixed_dictionaries(
        {"recurrence_id": times},
        optional={"start_time": times, "title": texts, "transparency": st.just("transparent")},
    )


def snapshots() -> st.SearchStrategy[dict[str, Any]]:
    """Generate complete, valid-shaped snapshots."""
    return st.fixed_dictionaries(
        {
            "title": texts,
            "description": optional_texts,
            "start_time": times,
            "end_time": times,
            "timezone": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
            "location": optional_texts,
            "is_recurring": st.booleans(),
            "recurrence_pattern": st.none()
            | st.sampled_from(["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=TU,TH", "FREQ=MONTHLY;COUNT=3"]),
            "recurrence_exceptions": st.lists(times, max_size=3),
            "recurrence_dates": st.lists(times, max_size=3),
            "transparency": st.sampled_from(["opaque", "transparent"]),
            "recurrence_overrides": st.lists(overrides(), max_size=3),
            "all_day": st.booleans(),
            "start_date": st.none() | st.sampled_from(["2026-03-12", "2026-03-14"]),
            "end_date": st.none() | st.sampled_from(["2026-03-13", "2026-03-17"]),
        }
    )


@st.composite
def snapshot_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Generate (a, b) where b shares a random subset of a's field values."""
    a, other = draw(snapshots()), draw(snapshots())
    changed = draw(st.sets(st.sampled_from(CONTENT_FIELDS)))
    b = {field: other[field] if field in changed else a[field] for field in CONTENT_FIELDS}
    return a, b


def with_(**fields: Any) -> dict[str, Any]:
    """Return a copy of BASE with some fields replaced."""
    return {**copy.deepcopy(BASE), **fields}


# --- diff_snapshots ----------------------------------------------------------------


def test_constants_describe_the_snapshot_shape() -> None:
    assert tuple(BASE) == CONTENT_FIELDS
    assert TEXT_FIELDS == ("title", "description", "location")


def test_diff_of_snapshot_with_itself_is_empty() -> None:
    assert diff_snapshots(BASE, copy.deepcopy(BASE)) == []


def test_changed_value_is_reported_with_old_and_new() -> None:
    changes = diff_snapshots(BASE, with_(timezone="Europe/Berlin"))
    assert changes == [
        {"field": "timezone", "op": "changed", "old": "Europe/Paris", "new": "Europe/Berlin"}
    ]


def test_empty_to_value_is_added_and_value_to_empty_is_removed() -> None:
    new = with_(
        description="Bring notes", location=None, recurrence_exceptions=["2026-03-27T10:00:00Z"]
    )
    ops = {c["field"]: c["op"] for c in diff_snapshots(BASE, new)}
    assert ops == {"description": "added", "location": "removed", "recurrence_exceptions": "added"}


def test_empty_string_counts_as_empty() -> None:
    ops = [c["op"] for c in diff_snapshots(with_(description=""), with_(description="x"))]
    assert ops == ["added"]
    ops = [c["op"] for c in diff_snapshots(with_(location="Room 2"), with_(location=""))]
    assert ops == ["removed"]


def test_false_is_a_value_not_an_empty_field() -> None:
    [change] = diff_snapshots(BASE, with_(is_recurring=True))
    assert change == {"field": "is_recurring", "op": "changed", "old": False, "new": True}


def test_none_to_empty_string_is_changed() -> None:
    [change] = diff_snapshots(with_(description=None), with_(description=""))
    assert change["op"] == "changed"
    assert change["text_diff"] == []


def test_changes_follow_content_field_order() -> None:
    new = with_(
        recurrence_exceptions=["2026-03-27T10:00:00Z"],
        location="Room 4",
        title="Daily sync",
        end_time="2026-03-20T11:00:00Z",
    )
    fields = [c["field"] for c in diff_snapshots(BASE, new)]
    assert fields == ["title", "end_time", "location", "recurrence_exceptions"]


def test_only_text_fields_carry_a_word_diff() -> None:
    new = with_(title="Weekly design standup", location="Room 4", timezone="UTC")
    changes = {c["field"]: c for c in diff_snapshots(BASE, new)}
    assert changes["title"]["text_diff"] == [
        {"op": "equal", "text": "Weekly "},
        {"op": "delete", "text": "team"},
        {"op": "insert", "text": "design"},
        {"op": "equal", "text": " standup"},
    ]
    assert changes["location"]["text_diff"] == [
        {"op": "equal", "text": "Room "},
        {"op": "delete", "text": "2"},
        {"op": "insert", "text": "4"},
    ]
    assert "text_diff" not in changes["timezone"]


def test_added_text_field_diffs_against_empty_text() -> None:
    [change] = diff_snapshots(BASE, with_(description="Bring notes"))
    assert change["text_diff"] == [{"op": "insert", "text": "Bring notes"}]


def test_changed_fields_lists_differing_fields() -> None:
    assert changed_fields(BASE, BASE) == []
    assert changed_fields(BASE, with_(title="X", is_recurring=True)) == ["title", "is_recurring"]


def test_changed_fields_of_creation_lists_every_non_empty_field() -> None:
    assert changed_fields(None, BASE) == [
        "title",
        "start_time",
        "end_time",
        "timezone",
        "location",
        "is_recurring",
    ]


def test_diff_does_not_alias_input_lists() -> None:
    new = with_(recurrence_exceptions=["2026-03-27T10:00:00Z"])
    [change] = diff_snapshots(BASE, new)
    change["new"].append("2026-04-03T10:00:00Z")
    assert new["recurrence_exceptions"] == ["2026-03-27T10:00:00Z"]


# --- word_diff -------------------------------------------------------------------


def test_word_diff_of_equal_texts_is_one_equal_chunk() -> None:
    assert word_diff("same text", "same text") == [{"op": "equal", "text": "same text"}]


def test_word_diff_of_empty_texts_is_empty() -> None:
    assert word_diff("", "") == []


def test_word_diff_insert_only() -> None:
    assert word_diff("a c", "a b c") == [
        {"op": "equal", "text": "a "},
        {"op": "insert", "text": "b "},
        {"op": "equal", "text": "c"},
    ]


def test_word_diff_delete_only() -> None:
    assert word_diff("a b c", "a c") == [
        {"op": "equal", "text": "a "},
        {"op": "delete", "text": "b "},
        {"op": "equal", "text": "c"},
    ]


def test_word_diff_replacement_is_delete_then_insert_of_whole_words() -> None:
    # Neighbouring replaced words joined by a space form one replacement.
    assert word_diff("the quick brown fox", "a slow brown fox") == [
        {"op": "delete", "text": "the quick"},
        {"op": "insert", "text": "a slow"},
        {"op": "equal", "text": " brown fox"},
    ]


def test_word_diff_treats_punctuation_as_separate_tokens() -> None:
    assert word_diff("Hello, world", "Hello, world!") == [
        {"op": "equal", "text": "Hello, world"},
        {"op": "insert", "text": "!"},
    ]


def test_word_diff_compares_words_not_characters() -> None:
    assert word_diff("standup", "standups") == [
        {"op": "delete", "text": "standup"},
        {"op": "insert", "text": "standups"},
    ]


@PROPERTY
@given(st.text(), st.text())
def test_word_diff_reconstructs_both_texts(old: str, new: str) -> None:
    chunks = word_diff(old, new)
    assert "".join(c["text"] for c in chunks if c["op"] != "insert") == old
    assert "".join(c["text"] for c in chunks if c["op"] != "delete") == new


@PROPERTY
@given(st.text(), st.text())
def test_word_diff_chunks_are_merged_and_non_empty(old: str, new: str) -> None:
    chunks = word_diff(old, new)
    assert all(c["text"] for c in chunks)
    assert all(c["op"] in ("equal", "insert", "delete") for c in chunks)
    assert all(a["op"] != b["op"] for a, b in itertools.pairwise(chunks))
    # Within a change block the delete always comes first.
    assert all((a["op"], b["op"]) != ("insert", "delete") for a, b in itertools.pairwise(chunks))


@PROPERTY
@given(st.text())
def test_word_diff_of_text_with_itself_has_no_changes(text: str) -> None:
    assert all(c["op"] == "equal" for c in word_diff(text, text))


# --- apply_changes and reverse -----------------------------------------------------


def test_apply_changes_sets_new_values_without_mutating_input() -> None:
    original = copy.deepcopy(BASE)
    result = apply_changes(BASE, [{"field": "title", "op": "changed", "old": "x", "new": "Y"}])
    assert result == with_(title="Y")
    assert original == BASE


def test_reverse_swaps_values_ops_and_word_changes() -> None:
    changes = diff_snapshots(BASE, with_(title="Weekly design standup", location=None))
    assert reverse(changes) == [
        {
            "field": "title",
            "op": "changed",
            "old": "Weekly design standup",
            "new": "Weekly team standup",
            "text_diff": [
                {"op": "equal", "text": "Weekly "},
                {"op": "delete", "text": "design"},
                {"op": "insert", "text": "team"},
                {"op": "equal", "text": " standup"},
            ],
        },
        {
            "field": "location",
            "op": "added",
            "old": None,
            "new": "Room 2",
            "text_diff": [{"op": "insert", "text": "Room 2"}],
        },
    ]


@PROPERTY
@given(snapshots())
def test_diff_of_any_snapshot_with_itself_is_empty(snapshot: dict[str, Any]) -> None:
    assert diff_snapshots(snapshot, copy.deepcopy(snapshot)) == []


@PROPERTY
@given(snapshot_pairs())
def test_applying_a_diff_produces_the_target(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = pair
    assert apply_changes(a, diff_snapshots(a, b)) == b


@PROPERTY
@given(snapshot_pairs())
def test_diff_lists_exactly_the_changed_fields(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = pair
    fields = [c["field"] for c in diff_snapshots(a, b)]
    assert fields == [f for f in CONTENT_FIELDS if a[f] != b[f]]


@PROPERTY
@given(snapshot_pairs())
def test_reverse_is_an_involution(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    changes = diff_snapshots(*pair)
    assert reverse(reverse(changes)) == changes


@PROPERTY
@given(snapshot_pairs())
def test_reversed_diff_leads_back(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    a, b = pair
    backwards = reverse(diff_snapshots(a, b))
    assert apply_changes(b, backwards) == a

    def without_words(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if k != "text_diff"} for c in changes]

    assert without_words(backwards) == without_words(diff_snapshots(b, a))


@PROPERTY
@given(snapshot_pairs())
def test_reversed_word_diff_reconstructs_swapped_texts(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    for change in reverse(diff_snapshots(*pair)):
        if "text_diff" in change:
            chunks = change["text_diff"]
            old = "".join(c["text"] for c in chunks if c["op"] != "insert")
            new = "".join(c["text"] for c in chunks if c["op"] != "delete")
            assert (old, new) == (change["old"] or "", change["new"] or "")
