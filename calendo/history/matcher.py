"""Sequence matching with a hard work budget: Myers' O(ND) diff that gives up instead of stalling.

``opcodes(a, b, budget)`` returns difflib-style ``(tag, i1, i2, j1, j2)`` tuples (tags
``equal``, ``delete``, ``insert``) describing a shortest edit script from ``a`` to ``b``, or
``None`` when finding one would cost more than the budget has left.

Work, for sequences of lengths N and M, counted in ``budget.spent`` (one step = one element
comparison or one diagonal visit):

1. The common prefix and suffix are trimmed first: at most min(N, M) + 2 comparisons, charged.
   A single edit anywhere in a long text therefore costs O(N + M) steps and nothing more.
2. If either middle is empty the answer is immediate.  Otherwise any edit script needs at
   least D = |N' - M'| edits (N', M' the middle lengths) and Myers visits D (D + 1) / 2
   diagonals before the round that can finish: when that is over what is left, the answer is
   ``None`` at once, without searching (the search would have failed anyway).
3. The middle parts are interned to integers (one dict lookup per element, O(N + M)).
4. Myers' greedy algorithm (E. Myers, "An O(ND) Difference Algorithm and Its Variations",
   1986) runs on the middles.  Every diagonal visit and every element comparison along a snake
   costs one step; the budget is checked after each diagonal, so a call spends at most
   ``budget.limit + min(N, M) + 1`` steps before it answers ``None``.  Its memory is the saved
   frontiers, at most two integers per diagonal visit: O(budget.limit).

So the worst case of one call is O(N + M + limit) time and memory, whatever the inputs.
Everything is pure; ``Budget`` is the only thing written to (its ``spent`` counter), which lets
callers and tests see exactly how much work was done.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

Opcode = tuple[str, int, int, int, int]


@dataclass(slots=True)
class Budget:
    """How many matcher steps one comparison may spend, and how many it has spent."""

    limit: int
    spent: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.spent)


def common_affixes(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix (never overlapping)."""
    shortest = min(len(a), len(b))
    prefix = 0
    while prefix < shortest and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def _interned(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[list[int], list[int]]:
    """Map equal elements to equal small integers, so each comparison is O(1)."""
    ids: dict[Hashable, int] = {}
    return [ids.setdefault(x, len(ids)) for x in a], [ids.setdefault(y, len(ids)) for y in b]


def _frontiers(a: list[int], b: list[int], budget: Budget) -> list[list[int]] | None:
    """Myers' forward pass: the furthest x per diagonal after each round d, or None if over budget.

    ``trace[d][k + d]`` is the furthest x reached on diagonal k = x - y with d edits.
    """
    n, m = len(a), len(b)
    offset = n + m + 1
    v = [0] * (2 * offset + 1)
    trace: list[list[int]] = []
    spent = budget.spent
    for d in range(n + m + 1):
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[offset + k - 1] < v[offset + k + 1]):
                x = v[offset + k + 1]  # step down: an insertion
            else:
                x = v[offset + k - 1] + 1  # step right: a deletion
            y, start = x - k, x
            while x < n and y < m and a[x] == b[y]:
                x, y = x + 1, y + 1
            v[offset + k] = x
            spent += 1 + x - start
            if x >= n and y >= m:
                trace.append(v[offset - d : offset + d + 1])
                budget.spent = spent
                return trace
            if spent > budget.limit:
                budget.spent = spent
                return None
        trace.append(v[offset - d : offset + d + 1])
    raise AssertionError("unreachable: d = n + m always reaches the end")  # pragma: no cover


def _script(trace: list[list[int]], n: int, m: int) -> list[str]:
    """Walk the frontiers back from (n, m): one "equal"/"delete"/"insert" per step, in order."""
    steps: list[str] = []
    x, y = n, m
    for d in range(len(trace) - 1, 0, -1):
        previous = trace[d - 1]
        k = x - y
        down = k == -d or (k != d and previous[k - 1 + d - 1] < previous[k + 1 + d - 1])
        prev_k = k + 1 if down else k - 1
        prev_x = previous[prev_k + d - 1]
        prev_y = prev_x - prev_k
        snake_start = prev_x if down else prev_x + 1
        steps.extend(["equal"] * (x - snake_start))
        steps.append("insert" if down else "delete")
        x, y = prev_x, prev_y
    steps.extend(["equal"] * x)
    steps.reverse()
    return steps


def _grouped(steps: list[str], i: int, j: int) -> list[Opcode]:
    """Collapse single steps into opcodes, starting at positions (i, j)."""
    codes: list[Opcode] = []
    for step in steps:
        di, dj = (0, 1) if step == "insert" else (1, 0) if step == "delete" else (1, 1)
        if codes and codes[-1][0] == step:
            tag, i1, _, j1, _ = codes[-1]
            codes[-1] = (tag, i1, i + di, j1, j + dj)
        else:
            codes.append((step, i, i + di, j, j + dj))
        i, j = i + di, j + dj
    return codes


def opcodes(a: Sequence[Hashable], b: Sequence[Hashable], budget: Budget) -> list[Opcode] | None:
    """A shortest edit script from a to b as opcodes, or None if it would exceed the budget."""
    prefix, suffix = common_affixes(a, b)
    budget.spent += prefix + suffix + 2  # the comparisons made, the failing ones included
    n, m = len(a) - prefix - suffix, len(b) - prefix - suffix
    middle: list[Opcode]
    if n == 0 or m == 0:
        middle = [("delete", prefix, prefix + n, prefix, prefix)] if n else []
        middle += [("insert", prefix + n, prefix + n, prefix, prefix + m)] if m else []
    else:
        least_edits = abs(n - m)
        if least_edits * (least_edits + 1) // 2 > budget.remaining:
            return None  # the search could not reach its last diagonal within the budget
        left, right = _interned(a[prefix : prefix + n], b[prefix : prefix + m])
        trace = _frontiers(left, right, budget)
        if trace is None:
            return None
        middle = _grouped(_script(trace, n, m), prefix, prefix)
    head: list[Opcode] = [("equal", 0, prefix, 0, prefix)] if prefix else []
    tail: list[Opcode] = (
        [("equal", len(a) - suffix, len(a), len(b) - suffix, len(b))] if suffix else []
    )
    return head + middle + tail
