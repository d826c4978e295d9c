"""The arithmetic of core/auth_limits.py: the sliding window counter and the backoff."""

from __future__ import annotations

import pytest
from limits import parse
from limits.storage import storage_from_string

from calendo.core.auth_limits import Backoff, SlidingBudget, account_key, seconds_until


@pytest.mark.parametrize(
    ("previous", "current", "elapsed", "target", "expected"),
    [
        (0, 0, 10.0, 4, 0),  # nothing counted: room now
        (0, 3, 10.0, 4, 0),  # under the target already
        # 5 from the last window at its half: 2.5 now, 2 once 6 more seconds have faded it.
        (5, 0, 30.0, 2, 6),
        (5, 2, 30.0, 4, 6),
        # 5 in this window (10 s in): the next window must fade them to 4: 50 s + 12 s.
        (0, 5, 10.0, 4, 62),
        (3, 5, 10.0, 4, 62),
    ],
)
def testseconds_until_the_weighted_count_is_low_enough(
    previous: int, current: int, elapsed: float, target: int, expected: int
) -> None:
    assert seconds_until(previous, current, elapsed, 60, target) == expected


async def test_a_held_unit_counts_until_given_back() -> None:
    storage = storage_from_string("async+memory://")
    budget = SlidingBudget(parse("3/hour"), "t")  # an hour: no window boundary in this test
    holds = [await budget.take(storage, "ip") for _ in range(3)]
    assert None not in holds
    assert await budget.take(storage, "ip") is None  # the refusal is not counted
    quota = await budget.quota(storage, "ip")
    # Room again once the next window has faded these 3 to 2: a third into it.
    assert (quota.limit, quota.remaining) == (3, 0) and 1200 <= quota.reset <= 4800
    hold = holds[0]
    assert hold is not None
    await budget.give_back(storage, hold)
    assert (await budget.quota(storage, "ip")).remaining == 1
    assert await budget.take(storage, "ip") is not None
    assert await budget.take(storage, "other-ip") is not None


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff("t", after=3, base=1, cap=60)
    assert [backoff.delay(f) for f in range(3, 11)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(10**6) == 60  # no overflow, however many failures


async def test_one_attempt_per_wait_and_a_success_clears() -> None:
    storage = storage_from_string("async+memory://")
    backoff = Backoff("t", after=2, base=30, cap=60)
    for _ in range(2):
        assert await backoff.admit(storage, "name") == 0
        await backoff.failed(storage, "name")
    assert await backoff.admit(storage, "name") == 0  # opens a 30 s wait
    assert 29 <= await backoff.admit(storage, "name") <= 30
    assert await backoff.admit(storage, "name", spared_by="known") > 0
    await storage.incr("known", 60, 1)
    assert await backoff.admit(storage, "name", spared_by="known") == 0
    await backoff.forget(storage, "name")
    assert await backoff.admit(storage, "name") == 0


def test_account_keys_match_the_lookup() -> None:
    assert account_key("Alice@Example.com") == account_key("alice@example.com")
    assert account_key("Alice") != account_key("alice")  # usernames are case-sensitive
    assert len(account_key("x" * 320)) == 32
