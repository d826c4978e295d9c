"""Bounded diffs (issue 14, finding 2): the matcher's work is counted, never timed.

A diff of long texts that differ almost everywhere must not hold a CPU for seconds: one
diff shares ``DIFF_BUDGET`` matcher steps among its text fields and degrades a field that
would need more to a line diff, then to a whole-field replacement, saying so.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendo.history import diff as diff_module
from calendo.history.diff import (
    DIFF_BUDGET,
    diff_snapshots,
    is_degraded,
    text_diff,
    word_diff,
)
from calendo.history.html import DiffSide, render_diff_html
from calendo.history.matcher import Budget, Opcode, opcodes
from tests.events.conftest import EventFactory
from tests.helpers import Actor, assert_problem
from tests.history.oracles import reverse
from tests.history.test_diff import BASE, with_

PROPERTY = settings(max_examples=300, deadline=None, database=None)
UNLIMITED = 10**12

# --- texts ---------------------------------------------------------------------------

ONE_PLACE_OLD = "a." * 5000  # 10,000 characters, 10,000 tokens
ONE_PLACE_NEW = "a." * 2500 + "b." + "a." * 2499


def _vocabulary(seed: int, size: int) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(size)]


def random_words(seed: int, length: int = 10_000, vocabulary: int = 3000) -> str:
    """``length`` characters of words drawn uniformly from a vocabulary, one line."""
    rng = random.Random(seed)
    words = _vocabulary(seed, vocabulary)
    text = ""
    while len(text) < length:
        text += rng.choice(words) + rng.choice([" ", " ", ", ", ". "])
    return text[:length]


def prose(seed: int, length: int = 10_000) -> str:
    """Prose-like text: Zipf-distributed words in sentences, a paragraph break now and then."""
    rng = random.Random(seed)
    words = _vocabulary(seed, 2000)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    text = ""
    while len(text) < length:
        sentence = " ".join(rng.choices(words, weights, k=rng.randint(6, 18)))
        text += sentence.capitalize() + rng.choice([". ", ". ", "? "])
        if rng.random() < 0.05:
            text += "\n\n"
    return text[:length]


def edited(text: str, seed: int, fraction: float) -> str:
    """Delete, insert after or replace about ``fraction`` of the words of ``text``."""
    rng = random.Random(seed)
    words = _vocabulary(seed + 1, 500)
    out: list[str] = []
    for word in text.split(" "):
        roll = rng.random()
        if roll < fraction / 3:
            continue
        if roll < 2 * fraction / 3:
            out += [word, rng.choice(words)]
        elif roll < fraction:
            out.append(rng.choice(words))
        else:
            out.append(word)
    return " ".join(out)


def sides(chunks: Sequence[dict[str, str]]) -> tuple[str, str]:
    """The old and the new text a text diff describes."""
    old = "".join(c["text"] for c in chunks if c["op"] != "insert")
    new = "".join(c["text"] for c in chunks if c["op"] != "delete")
    return old, new


def counted_diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[dict[str, Any]], Budget]:
    budget = Budget(DIFF_BUDGET)
    return diff_snapshots(old, new, budget), budget


def linear_slack(*texts: str | None) -> int:
    """What a diff may spend beyond its budget: linear passes over its texts (affixes, the
    last diagonal's snake), a few steps per attempt; never a product of lengths."""
    return sum(len(t or "") for t in texts) + 100


@contextmanager
def _count_matcher_calls() -> Iterator[list[int]]:
    """Wrap the matcher the diff module calls, collecting the steps each call spends."""
    spent: list[int] = []

    def counting(a: Sequence[Hashable], b: Sequence[Hashable], budget: Budget) -> Any:
        before = budget.spent
        result = opcodes(a, b, budget)
        spent.append(budget.spent - before)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(diff_module, "opcodes", counting)
        yield spent


# --- the matcher: exact, and honest about its work -----------------------------------


def rebuild(a: Sequence[Hashable], b: Sequence[Hashable], codes: list[Opcode]) -> list[Hashable]:
    """Apply opcodes to a, checking they tile both sequences in order; return the result."""
    out: list[Hashable] = []
    i = j = 0
    for tag, i1, i2, j1, j2 in codes:
        assert (i1, j1) == (i, j), codes
        assert i1 < i2 or j1 < j2, "no empty opcode"
        if tag == "equal":
            assert list(a[i1:i2]) == list(b[j1:j2])
            out += a[i1:i2]
        elif tag == "insert":
            assert i1 == i2
            out += b[j1:j2]
        else:
            assert tag == "delete" and j1 == j2
        i, j = i2, j2
    assert (i, j) == (len(a), len(b))
    return out


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Brute-force longest common subsequence (dynamic programming)."""
    previous = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(previous[j] + 1 if x == y else max(previous[j + 1], row[j]))
        previous = row
    return previous[-1]


def edits(codes: list[Opcode]) -> int:
    return sum(i2 - i1 + j2 - j1 for tag, i1, i2, j1, j2 in codes if tag != "equal")


small_sequences = st.lists(st.sampled_from("abcd"), max_size=14)


@PROPERTY
@given(small_sequences, small_sequences)
def test_matcher_finds_a_shortest_edit_script(a: list[str], b: list[str]) -> None:
    codes = opcodes(a, b, Budget(UNLIMITED))
    assert codes is not None
    assert rebuild(a, b, codes) == b
    assert edits(codes) == len(a) + len(b) - 2 * lcs_length(a, b)


@PROPERTY
@given(small_sequences, small_sequences, st.integers(min_value=0, max_value=60))
def test_a_limited_matcher_is_exact_or_gives_up_within_its_bound(
    a: list[str], b: list[str], limit: int
) -> None:
    budget = Budget(limit)
    codes = opcodes(a, b, budget)
    if codes is not None:
        assert rebuild(a, b, codes) == b
        assert edits(codes) == len(a) + len(b) - 2 * lcs_length(a, b)
    assert budget.spent <= limit + min(len(a), len(b)) + 3


def test_matcher_on_many_random_sequences_matches_brute_force() -> None:
    rng = random.Random(14)
    for _ in range(2000):
        a = [rng.choice("xyz ") for _ in range(rng.randint(0, 16))]
        b = [rng.choice("xyz ") for _ in range(rng.randint(0, 16))]
        codes = opcodes(a, b, Budget(UNLIMITED))
        assert codes is not None
        assert rebuild(a, b, codes) == b
        assert edits(codes) == len(a) + len(b) - 2 * lcs_length(a, b)


def test_matcher_gives_up_at_once_when_the_lengths_alone_rule_it_out() -> None:
    a, b = ["x"] * 5, ["y"] * 2005  # at least 2000 edits: about 2 million diagonal visits
    budget = Budget(10_000)
    assert opcodes(a, b, budget) is None
    assert budget.spent <= 10  # only the affix comparisons


def test_matcher_spends_nothing_on_a_pure_insertion() -> None:
    budget = Budget(0)
    codes = opcodes(list("ab"), list("aXXXXb"), budget)
    assert codes == [("equal", 0, 1, 0, 1), ("insert", 1, 1, 1, 5), ("equal", 1, 2, 5, 6)]
    assert budget.spent <= 4


# --- one change in a long text: linear and exact ---------------------------------------


def test_one_change_in_a_long_text_costs_linear_work_and_stays_word_level() -> None:
    changes, budget = counted_diff(
        with_(description=ONE_PLACE_OLD), with_(description=ONE_PLACE_NEW)
    )
    [change] = changes
    assert "granularity" not in change and not is_degraded(changes)
    assert change["text_diff"] == [
        {"op": "equal", "text": "a." * 2500},
        {"op": "delete", "text": "a"},
        {"op": "insert", "text": "b"},
        {"op": "equal", "text": "." + "a." * 2499},
    ]
    # O(N): about one comparison per token (10,000 of them), not 10,000 squared.
    assert budget.spent <= 2 * len(ONE_PLACE_OLD)


def test_two_changes_in_a_periodic_text_stay_bounded_and_exact() -> None:
    old = ONE_PLACE_OLD
    new = "b." + "a." * 4998 + "b."
    changes, budget = counted_diff(with_(description=old), with_(description=new))
    [change] = changes
    assert "granularity" not in change
    assert sides(change["text_diff"]) == (old, new)
    assert budget.spent <= DIFF_BUDGET


# --- pathological pairs: bounded and degraded, saying so ------------------------------


def test_unrelated_long_texts_stay_within_budget_and_come_back_degraded() -> None:
    old, new = random_words(1), random_words(2)
    changes, budget = counted_diff(with_(description=old), with_(description=new))
    [change] = changes
    assert change["granularity"] in ("line", "field")
    assert is_degraded(changes)
    assert sides(change["text_diff"]) == (old, new)
    assert budget.spent <= DIFF_BUDGET + linear_slack(old, new)


def test_ten_percent_edits_of_small_vocabulary_text_stay_within_budget() -> None:
    # Few distinct words: many coincidental matches make the exact word diff expensive.
    old = random_words(3, vocabulary=15)
    new = edited(old, 4, 0.1)
    changes, budget = counted_diff(with_(description=old), with_(description=new))
    [change] = changes
    assert budget.spent <= DIFF_BUDGET + linear_slack(old, new)
    assert sides(change["text_diff"]) == (old, new)
    assert is_degraded(changes) == ("granularity" in change)


def test_realistic_prose_with_ten_percent_edits_keeps_its_exact_word_diff() -> None:
    old = prose(5)
    new = edited(old, 6, 0.1)
    changes, budget = counted_diff(with_(description=old), with_(description=new))
    [change] = changes
    assert "granularity" not in change and not is_degraded(changes)
    assert sides(change["text_diff"]) == (old, new)
    assert budget.spent <= DIFF_BUDGET // 2


def test_multi_line_text_degrades_to_changed_lines() -> None:
    lines = [random_words(seed, 60) for seed in range(120)]
    old = "\n".join(lines)
    new_lines = [
        random_words(1000 + seed, 60) if seed % 2 else line for seed, line in enumerate(lines)
    ]
    new = "\n".join(new_lines)
    changes, budget = counted_diff(with_(description=old), with_(description=new))
    [change] = changes
    assert change["granularity"] == "line"
    assert sides(change["text_diff"]) == (old, new)
    assert {"op": "equal", "text": lines[0] + "\n"} in change["text_diff"]
    assert budget.spent <= DIFF_BUDGET + linear_slack(old, new)


def test_when_even_lines_are_over_budget_the_whole_field_is_replaced() -> None:
    old = "\n".join(random_words(seed, 3, vocabulary=20) for seed in range(2500))
    new = "\n".join(random_words(5000 + seed, 3, vocabulary=20) for seed in range(2500))
    changes, budget = counted_diff(with_(description=old), with_(description=new))
    [change] = changes
    assert change["granularity"] == "field"
    assert change["text_diff"] == [{"op": "delete", "text": old}, {"op": "insert", "text": new}]
    assert budget.spent <= DIFF_BUDGET + linear_slack(old, new)


def test_all_fields_of_one_diff_share_one_budget_shortest_first() -> None:
    old = with_(title="Weekly team sync", description=random_words(1), location="Room 2")
    new = with_(title="Weekly product sync", description=random_words(2), location="Room 4")
    changes, budget = counted_diff(old, new)
    by_field = {c["field"]: c for c in changes}
    # The long description is degraded; the short fields, diffed first, keep their words.
    assert "granularity" not in by_field["title"] and "granularity" not in by_field["location"]
    assert {"op": "insert", "text": "product"} in by_field["title"]["text_diff"]
    assert by_field["description"]["granularity"] in ("line", "field")
    assert budget.spent <= DIFF_BUDGET + linear_slack(
        *(str(s[f] or "") for s in (old, new) for f in ("title", "description", "location"))
    )


def test_an_exhausted_budget_still_gives_a_correct_whole_field_diff() -> None:
    budget = Budget(0)
    chunks, granularity = text_diff("the quick fox", "a slow dog", budget)
    assert granularity == "field"
    assert chunks == [
        {"op": "delete", "text": "the quick fox"},
        {"op": "insert", "text": "a slow dog"},
    ]


def test_word_diff_alone_is_bounded_too() -> None:
    old, new = random_words(1), random_words(2)
    with _count_matcher_calls() as spent:
        chunks = word_diff(old, new)
    assert sides(chunks) == (old, new)
    assert sum(spent) <= DIFF_BUDGET + linear_slack(old, new)


def test_reverse_keeps_the_granularity() -> None:
    changes = diff_snapshots(with_(description=random_words(1)), with_(description=random_words(2)))
    [back] = reverse(changes)
    assert back["granularity"] == changes[0]["granularity"]
    assert is_degraded(reverse(changes))
    assert sides(back["text_diff"]) == (changes[0]["new"], changes[0]["old"])


# --- HTML ----------------------------------------------------------------------------


def _side(version: int) -> DiffSide:
    return DiffSide(
        version=version,
        author="alice",
        created_at="2026-03-19T08:00:00Z",
        summary="",
        note=None,
        action="updated",
    )


def _page(changes: list[dict[str, Any]], new: dict[str, Any]) -> str:
    return render_diff_html(
        event_title="Planning",
        event_id=7,
        old=_side(1),
        new=_side(2),
        changes=changes,
        old_snapshot=BASE,
        new_snapshot=new,
        prev_href=None,
        next_href=None,
    )


def test_html_page_says_when_a_field_was_not_compared_word_by_word() -> None:
    old, new = with_(description=random_words(1)), with_(description=random_words(2))
    page = _page(diff_snapshots(old, new), new)
    assert "Too many changes to compare word by word" in page
    exact = with_(title="Planning, again")
    assert "Too many changes" not in _page(diff_snapshots(BASE, exact), exact)


def test_html_page_computes_missing_text_diffs_within_one_budget() -> None:
    new = with_(title="Replanned", description=random_words(2), location="Hall")
    old = with_(description=random_words(1))
    bare = [
        {k: v for k, v in change.items() if k not in ("text_diff", "granularity")}
        for change in diff_snapshots(old, new)
    ]
    with _count_matcher_calls() as spent:
        page = _page(bare, new)
    assert "Too many changes to compare word by word" in page
    assert sum(spent) <= DIFF_BUDGET + linear_slack(random_words(1), random_words(2)) + 100


# --- the API: the diff endpoint and the stale-write 409 -------------------------------


@pytest.fixture
def matcher_steps() -> Iterator[list[int]]:
    with _count_matcher_calls() as spent:
        yield spent


async def _put(
    client: httpx.AsyncClient, actor: Actor, event_id: int, **body: Any
) -> httpx.Response:
    return await client.put(f"/api/events/{event_id}", json=body, headers=actor.headers)


async def _edited_event(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, old: str, new: str
) -> int:
    """An event whose description went from old (version 1) to new (version 2)."""
    event = await make_event(owner, description=old)
    assert (await _put(client, owner, event["id"], description=new)).status_code == 200
    return int(event["id"])


async def test_diff_endpoint_reports_a_degraded_diff_within_budget(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, matcher_steps: list[int]
) -> None:
    old, new = random_words(1), random_words(2)
    event_id = await _edited_event(client, owner, make_event, old, new)
    matcher_steps.clear()

    response = await client.get(f"/api/events/{event_id}/diff/1/2", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] is True
    [change] = body["changes"]
    assert change["field"] == "description"
    assert change["granularity"] in ("line", "field")
    assert sides(change["text_diff"]) == (old, new)
    assert 0 < sum(matcher_steps) <= DIFF_BUDGET + linear_slack(old, new)

    page = await client.get(
        f"/api/events/{event_id}/diff/1/2", params={"format": "html"}, headers=owner.headers
    )
    assert page.status_code == 200
    assert "Too many changes to compare word by word" in page.text


async def test_diff_endpoint_of_one_change_in_a_long_text_is_exact_and_linear(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, matcher_steps: list[int]
) -> None:
    event_id = await _edited_event(client, owner, make_event, ONE_PLACE_OLD, ONE_PLACE_NEW)
    matcher_steps.clear()

    body = (await client.get(f"/api/events/{event_id}/diff/1/2", headers=owner.headers)).json()
    assert body["degraded"] is False
    [change] = body["changes"]
    assert change["granularity"] is None
    assert {"op": "insert", "text": "b"} in change["text_diff"]
    assert sum(matcher_steps) <= 2 * len(ONE_PLACE_OLD)


async def test_stale_put_409_carries_a_bounded_degraded_diff(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory, matcher_steps: list[int]
) -> None:
    old, new = random_words(1), random_words(2)
    event_id = await _edited_event(client, owner, make_event, old, new)
    matcher_steps.clear()

    stale = await _put(client, owner, event_id, title="Mine", version=1)
    problem = assert_problem(stale, 409, "version-conflict")
    assert problem["degraded"] is True
    [change] = problem["changes"]
    assert change["field"] == "description"
    assert change["granularity"] in ("line", "field")
    assert sides(change["text_diff"]) == (old, new)
    assert 0 < sum(matcher_steps) <= DIFF_BUDGET + linear_slack(old, new)


async def test_stale_put_409_of_a_small_change_is_not_degraded(
    client: httpx.AsyncClient, owner: Actor, make_event: EventFactory
) -> None:
    event = await make_event(owner, title="One")
    assert (await _put(client, owner, event["id"], title="Two")).status_code == 200
    problem = assert_problem(await _put(client, owner, event["id"], title="Three", version=1), 409)
    assert problem["degraded"] is False
    assert "granularity" not in problem["changes"][0]


async def test_openapi_documents_the_degraded_flag(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert "budget" in schemas["DiffRead"]["properties"]["degraded"]["description"]
    granularity = schemas["FieldChange"]["properties"]["granularity"]
    assert "line" in granularity["description"] and "field" in granularity["description"]
