"""Validation errors as plain sentences: pydantic's errors, by their ``type``, as a user reads them.

Pydantic's messages speak of its own machinery: ``Value error, unknown FREQ 'FORTNIGHTLY'``,
``Input tag 'frobnicate' found using 'op' does not match any of the expected tags``, ``Input
should be a valid integer, unable to parse string as an integer``. Every 422 that comes from
validation renders each error through ``plain_message``: the error's ``type`` (never its
English text) picks a sentence that names what it is about (``limit must be a whole number, not
'abc'``); a validator's own ``ValueError`` is shown as it was raised, without pydantic's
prefix. A type with no sentence here keeps pydantic's message. The rule for writers of
validators and services: a message is one plain sentence about the request (the field, the
value, what would be accepted), never about the code that checked it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Loc = Sequence[str | int]
_Sentence = Callable[[str, Mapping[str, Any], Any], str]

_EXAMPLE_TIME = "2026-03-20T10:00:00Z"
# Detail lines list at most this many messages; ``errors`` always holds every one.
DETAIL_MESSAGES = 5


def show(value: object) -> str:
    """A value from the request, quoted for a message and shortened."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _items(count: object) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _not(value: object) -> str:
    """``, not 'abc'`` for a text the client sent (other inputs are not worth echoing)."""
    return f", not {show(value)}" if isinstance(value, str) else ""


def _too_short(s: str, ctx: Mapping[str, Any], _: Any) -> str:
    least = ctx.get("min_length")
    return f"{s} must not be empty" if least == 1 else f"{s} needs at least {least} characters"


def _too_long_list(s: str, ctx: Mapping[str, Any], _: Any) -> str:
    actual = ctx.get("actual_length")
    held = f", not {actual}" if actual is not None else ""
    return f"{s} may hold at most {_items(ctx.get('max_length'))}{held}"


def _must_be(what: str) -> _Sentence:
    """``<subject> must be <what>``, with the text sent when it was text."""
    return lambda s, _, value: f"{s} must be {what}{_not(value)}"


_TIME = f"an RFC 3339 date-time with an offset, such as {_EXAMPLE_TIME}"
_OFFSET = f"{_EXAMPLE_TIME} or 2026-03-20T12:00:00+02:00"


# Pydantic error types and their sentence; ``s`` is what the error is about (``subject``).
_BY_TYPES: tuple[tuple[tuple[str, ...], _Sentence], ...] = (
    (("missing",), lambda s, _, __: f"{s} is required"),
    (("extra_forbidden",), lambda s, _, __: f"Unknown field {s!r}"),
    (("string_type",), _must_be("a string")),
    (("string_too_short",), _too_short),
    (("string_too_long",), lambda s, c, _: f"{s} may have at most {c['max_length']} characters"),
    (("string_pattern_mismatch",), lambda s, c, _: f"{s} must match the pattern {c['pattern']}"),
    (("int_type", "int_parsing", "int_from_float"), _must_be("a whole number")),
    (("float_type", "float_parsing"), _must_be("a number")),
    (("greater_than_equal",), lambda s, c, _: f"{s} must be at least {c['ge']}"),
    (("greater_than",), lambda s, c, _: f"{s} must be greater than {c['gt']}"),
    (("less_than_equal",), lambda s, c, _: f"{s} must be at most {c['le']}"),
    (("less_than",), lambda s, c, _: f"{s} must be less than {c['lt']}"),
    (("bool_type", "bool_parsing"), _must_be("true or false")),
    (("literal_error", "enum"), lambda s, c, _: f"{s} must be one of {c['expected']}"),
    (
        (
            "datetime_type",
            "datetime_parsing",
            "datetime_from_date_parsing",
            "datetime_object_invalid",
        ),
        _must_be(_TIME),
    ),
    (("timezone_aware",), lambda s, _, __: f"{s} must include a UTC offset, such as {_OFFSET}"),
    (("dict_type", "model_type", "model_attributes_type"), _must_be("an object")),
    (("list_type",), _must_be("a list")),
    (("too_short",), lambda s, c, _: f"{s} must hold at least {_items(c.get('min_length'))}"),
    (("too_long",), _too_long_list),
)
SENTENCES: Mapping[str, _Sentence] = {kind: said for kinds, said in _BY_TYPES for kind in kinds}

_PLACES = {"body": "The request body", "query": "The query string", "path": "The path"}


def _is_item(loc: Loc, item: tuple[str, str] | None) -> bool:
    return item is not None and len(loc) == 3 and loc[1] == item[0] and isinstance(loc[2], int)


def subject(loc: Loc, *, item: tuple[str, str] | None = None) -> str:
    """What an error at ``loc`` is about: its field (``title``, ``recurrence_exceptions[2]``),
    the request body, or a list body's own item (``item``: the list's field and what the
    problem calls one item, ``("operations", "operation")``)."""
    if item is not None and _is_item(loc, item):
        return f"this {item[1]}"  # the problem's detail names it: "operation 3: ..."
    parts = list(loc[1:])
    named = [i for i, part in enumerate(parts) if isinstance(part, str)]
    if not named:
        return _PLACES.get(str(loc[0]) if loc else "body", "The request")
    last = named[-1]
    return str(parts[last]) + "".join(f"[{n}]" for n in parts[last + 1 :])


def plain_message(
    error: Mapping[str, Any], *, loc: Loc, item: tuple[str, str] | None = None
) -> str:
    """The sentence for one pydantic error (``loc`` as the problem shows it; ``item`` as for
    ``subject``)."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "json_invalid":
        where = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = str(ctx.get("error", "")).strip()
        return f"The request body is not valid JSON: {reason[:1].lower()}{reason[1:]}{where}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])  # a validator's own text, without pydantic's prefix
    if kind == "value_error" and "reason" in ctx:  # pydantic's own checks (an email address)
        return f"{subject(loc, item=item)} is not valid: {ctx['reason']}"
    if kind == "union_tag_invalid":
        field = str(ctx.get("discriminator", "")).strip("'")
        what = item[1] if item is not None and _is_item(loc, item) else f"{field} value"
        tags = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"Unknown {what} {show(ctx.get('tag'))}; expected one of: {tags}"
    if kind == "union_tag_not_found":
        return f"{subject(loc, item=item)} needs the field {ctx.get('discriminator')}"
    sentence = SENTENCES.get(kind)
    if sentence is None:
        return str(error.get("msg", ""))
    about = str(loc[-1]) if kind == "extra_forbidden" and loc else subject(loc, item=item)
    return sentence(about, ctx, error.get("input"))


def summary(messages: Sequence[str]) -> str:
    """A problem's detail from its messages: the first few, and how many more."""
    shown = "; ".join(messages[:DETAIL_MESSAGES])
    more = len(messages) - DETAIL_MESSAGES
    return shown + (f" (and {more} more)" if more > 0 else "")
