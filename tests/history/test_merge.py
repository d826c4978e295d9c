"""Tests for calendo.history.merge: field-wise three-way merge."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.history.diff import CONTENT_FIELDS, changed_fields, diff_snapshots
from calendo.history.merge import FieldConflict, MergeResult, three_way_merge
from tests.history.oracles import apply_changes

PROPERTY = settings(max_examples=100, deadline=None, database=None)

BASE: dict[str, Any] = {
    "title": "Standup",
    "description": "Daily round",
    "start_time": "2026-03-20T10:00:00Z",
    "end_time": "2026-03-20T10:30:00Z",
    "timezone": "UTC",
    "location": "Room 2",
    "is_recurring": False,
    "recurrence_pattern": None,
    "recurrence_exceptions": [],
}

# --- strategies ------------------------------------------------------------------

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")
)
texts = st.text(max_size=20) | st.sampled_from(["", "Standup", "Daily sync"])


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
            "description": st.none() | texts,
            "start_time": times,
            "end_time": times,
            "timezone": st.sampled_from(["UTC", "Europe/Berlin"]),
            "location": st.none() | texts,
            "is_recurring": st.booleans(),
            "recurrence_pattern": st.none() | st.sampled_from(["FREQ=DAILY", "FREQ=WEEKLY"]),
            "recurrence_exceptions": st.lists(times, max_size=2),
            "recurrence_dates": st.lists(times, max_size=2),
            "transparency": st.sampled_from(["opaque", "transparent"]),
            "recurrence_overrides": st.lists(overrides(), max_size=2),
            "all_day": st.booleans(),
            "start_date": st.none() | st.sampled_from(["2026-03-12", "2026-03-14"]),
            "end_date": st.none() | st.sampled_from(["2026-03-13", "2026-03-17"]),
        }
    )


def mix(source: dict[str, Any], other: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """Return source with the given fields taken from other."""
    return {f: copy.deepcopy(other[f] if f in fields else source[f]) for f in CONTENT_FIELDS}


# Per field: untouched, edited by mine only, by theirs only, or by both alike.
EDIT_KINDS = ("none", "mine", "theirs", "both")


@st.composite
def conflict_free(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Generate (base, mine, theirs) whose edits never conflict."""
    base, edited = draw(snapshots()), draw(snapshots())
    n = len(CONTENT_FIELDS)
    kinds = draw(st.lists(st.sampled_from(EDIT_KINDS), min_size=n, max_size=n))
    kind_of = dict(zip(CONTENT_FIELDS, kinds, strict=True))
    mine = mix(base, edited, {f for f, k in kind_of.items() if k in ("mine", "both")})
    theirs = mix(base, edited, {f for f, k in kind_of.items() if k in ("theirs", "both")})
    return base, mine, theirs


@st.composite
def disjoint_edits(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Generate (base, mine, theirs) where mine and theirs edit disjoint fields."""
    base, mine_values, their_values = draw(snapshots()), draw(snapshots()), draw(snapshots())
    mine_fields = draw(st.sets(st.sampled_from(CONTENT_FIELDS)))
    their_fields = draw(st.sets(st.sampled_from(CONTENT_FIELDS))) - mine_fields
    return base, mix(base, mine_values, mine_fields), mix(base, their_values, their_fields)


@st.composite
def triples(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Generate (base, mine, theirs) with overlapping, possibly conflicting edits."""
    base, mine_values, their_values = draw(snapshots()), draw(snapshots()), draw(snapshots())
    mine_fields = draw(st.sets(st.sampled_from(CONTENT_FIELDS)))
    their_fields = draw(st.sets(st.sampled_from(CONTENT_FIELDS)))
    return base, mix(base, mine_values, mine_fields), mix(base, their_values, their_fields)


def with_(**fields: Any) -> dict[str, Any]:
    """Return a copy of BASE with some fields replaced."""
    return {**copy.deepcopy(BASE), **fields}


# --- examples ----------------------------------------------------------------------


def test_only_mine_changed_takes_mine() -> None:
    result = three_way_merge(BASE, with_(title="Daily sync"), BASE)
    assert result == MergeResult(merged=with_(title="Daily sync"), conflicts=[], applied=["title"])


def test_only_theirs_changed_keeps_theirs() -> None:
    theirs = with_(location="Room 4")
    result = three_way_merge(BASE, BASE, theirs)
    assert result == MergeResult(merged=theirs, conflicts=[], applied=[])


def test_disjoint_edits_combine() -> None:
    result = three_way_merge(BASE, with_(title="Daily sync"), with_(location="Room 4"))
    assert result.merged == with_(title="Daily sync", location="Room 4")
    assert result.conflicts == []
    assert result.applied == ["title"]


def test_same_edit_on_both_sides_is_no_conflict_and_not_applied() -> None:
    result = three_way_merge(BASE, with_(timezone="Europe/Berlin"), with_(timezone="Europe/Berlin"))
    assert result == MergeResult(merged=with_(timezone="Europe/Berlin"), conflicts=[], applied=[])


def test_different_edits_conflict_and_keep_theirs() -> None:
    mine = with_(title="Mine", description="Mine too", location="Room 9")
    theirs = with_(title="Theirs", description="Theirs too")
    result = three_way_merge(BASE, mine, theirs)
    assert result.conflicts == [
        FieldConflict(field="title", base="Standup", mine="Mine", theirs="Theirs"),
        FieldConflict(
            field="description", base="Daily round", mine="Mine too", theirs="Theirs too"
        ),
    ]
    assert result.merged == with_(title="Theirs", description="Theirs too", location="Room 9")
    assert result.applied == ["location"]


def test_lists_are_compared_as_whole_values() -> None:
    mine = with_(recurrence_exceptions=["2026-03-27T10:00:00Z"])
    theirs = with_(recurrence_exceptions=["2026-04-03T10:00:00Z"])
    result = three_way_merge(BASE, mine, theirs)
    assert [c.field for c in result.conflicts] == ["recurrence_exceptions"]
    assert result.merged["recurrence_exceptions"] == ["2026-04-03T10:00:00Z"]


def test_text_is_not_merged_word_by_word() -> None:
    result = three_way_merge(BASE, with_(title="Standup A"), with_(title="B Standup"))
    assert [c.field for c in result.conflicts] == ["title"]


def test_removing_a_value_is_an_edit() -> None:
    result = three_way_merge(BASE, with_(location=None), BASE)
    assert result.merged["location"] is None
    assert result.applied == ["location"]


def test_merge_does_not_mutate_or_alias_inputs() -> None:
    base, mine = with_(), with_(recurrence_exceptions=["2026-03-27T10:00:00Z"])
    theirs = with_(title="Other")
    snapshot = copy.deepcopy((base, mine, theirs))
    result = three_way_merge(base, mine, theirs)
    result.merged["recurrence_exceptions"].append("x")
    assert (base, mine, theirs) == snapshot


def test_merge_result_is_frozen() -> None:
    result = three_way_merge(BASE, BASE, BASE)
    with pytest.raises(AttributeError):
        result.merged = {}  # type: ignore[misc]


# --- properties ------------------------------------------------------------------


@PROPERTY
@given(snapshots(), snapshots())
def test_unchanged_mine_yields_theirs(base: dict[str, Any], theirs: dict[str, Any]) -> None:
    result = three_way_merge(base, copy.deepcopy(base), theirs)
    assert result.merged == theirs
    assert result.conflicts == []
    assert result.applied == []


@PROPERTY
@given(snapshots(), snapshots())
def test_unchanged_theirs_yields_mine(base: dict[str, Any], mine: dict[str, Any]) -> None:
    result = three_way_merge(base, mine, copy.deepcopy(base))
    assert result.merged == mine
    assert result.conflicts == []
    assert result.applied == changed_fields(base, mine)


@PROPERTY
@given(disjoint_edits())
def test_disjoint_edits_equal_applying_both_in_either_order(
    triple: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    base, mine, theirs = triple
    mine_changes, their_changes = diff_snapshots(base, mine), diff_snapshots(base, theirs)
    mine_first = apply_changes(apply_changes(base, mine_changes), their_changes)
    theirs_first = apply_changes(apply_changes(base, their_changes), mine_changes)
    result = three_way_merge(base, mine, theirs)
    assert result.conflicts == []
    assert result.merged == mine_first == theirs_first


@PROPERTY
@given(conflict_free())
def test_conflict_free_merge_is_symmetric(
    triple: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    base, mine, theirs = triple
    forward, backward = three_way_merge(base, mine, theirs), three_way_merge(base, theirs, mine)
    assert forward.conflicts == backward.conflicts == []
    assert forward.merged == backward.merged


@PROPERTY
@given(triples())
def test_conflicts_are_exactly_the_divergent_fields(
    triple: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
) -> None:
    base, mine, theirs = triple
    result = three_way_merge(base, mine, theirs)
    divergent = [
        f for f in CONTENT_FIELDS if base[f] != mine[f] and base[f] != theirs[f] != mine[f]
    ]
    assert [c.field for c in result.conflicts] == divergent
    for conflict in result.conflicts:
        assert result.merged[conflict.field] == theirs[conflict.field]
    for field in CONTENT_FIELDS:
        expected = mine[field] if field in result.applied else theirs[field]
        assert result.merged[field] == expected
