"""List bodies are counted before any item is validated (core.bounded, issue 14 finding 4).

Each test sends one item over the limit, every item well formed, and counts a validator that
each item runs: zero means the count was checked first. At the limit the same counter sees
every item, so a zero is not an artefact of the counting.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ValidationError

from calendo.core.bounded import SERVING_SETTINGS, CountFirst, setting_limit
from calendo.core.config import Settings
from calendo.events.schemas import MAX_EXCEPTIONS, ConflictCheck, EventCreate, EventUpdate, _rfc3339
from calendo.sharing.schemas import MAX_SHARE_TARGETS, ShareRequest, ShareTarget
from calendo.transactions.schemas import MAX_OPERATIONS, TransactionRequest
from tests.validation_counts import count_calls

EVENT = {"title": "x", "start_time": "2026-01-01T09:00:00Z", "end_time": "2026-01-01T10:00:00Z"}
TARGET = {"username": "someone", "role": "viewer"}


def too_long(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    errors = [e for e in caught.value.errors() if e["type"] == "too_long"]
    assert len(errors) == 1, caught.value.errors()
    return dict(errors[0])


def test_transaction_operations_are_counted_first() -> None:
    create = {"op": "create", "event": EVENT}
    with count_calls(_rfc3339) as parsed:
        error = too_long(TransactionRequest, {"operations": [create] * (MAX_OPERATIONS + 1)})
    assert parsed.count == 0
    assert error["loc"] == ("operations",)
    assert error["msg"] == "List should have at most 100 items after validation, not 101"
    with count_calls(_rfc3339) as parsed:
        TransactionRequest.model_validate({"operations": [create] * MAX_OPERATIONS})
    assert parsed.count == 2 * MAX_OPERATIONS


@pytest.mark.parametrize("where", ["share request", "share operation"])
def test_share_lists_are_counted_first(where: str) -> None:
    def body(count: int) -> tuple[type[BaseModel], dict[str, Any]]:
        users = {"users": [TARGET] * count}
        if where == "share request":
            return ShareRequest, users
        return TransactionRequest, {"operations": [{"op": "share", "event_id": 1, **users}]}

    with count_calls(ShareTarget._one_name) as named:
        too_long(*body(MAX_SHARE_TARGETS + 1))
    assert named.count == 0
    with count_calls(ShareTarget._one_name) as named:
        model, data = body(MAX_SHARE_TARGETS)
        model.model_validate(data)
    assert named.count == MAX_SHARE_TARGETS


@pytest.mark.parametrize("model", [EventCreate, EventUpdate, ConflictCheck])
def test_recurrence_exceptions_are_counted_first(model: type[BaseModel]) -> None:
    times = {"start_time": EVENT["start_time"], "end_time": EVENT["end_time"]}
    body = {**times, "recurrence_exceptions": [EVENT["start_time"]] * (MAX_EXCEPTIONS + 1)}
    if model is EventCreate:
        body["title"] = "x"
    with count_calls(_rfc3339) as parsed:
        error = too_long(model, body)
    assert error["loc"] == ("recurrence_exceptions",)
    assert parsed.count == 2  # the event's own start and end, no exception
    body["recurrence_exceptions"] = body["recurrence_exceptions"][:MAX_EXCEPTIONS]
    with count_calls(_rfc3339) as parsed:
        model.model_validate(body)
    assert parsed.count == 2 + MAX_EXCEPTIONS


class Limited(BaseModel):
    fixed: Annotated[list[int], CountFirst(2)] = []
    configured: Annotated[list[int], CountFirst(setting_limit("batch_max"))] = []


def test_a_setting_limit_is_the_serving_apps_and_the_default_outside_a_request() -> None:
    limited = Limited
    limited.model_validate({"configured": [0] * 100})
    too_long(limited, {"configured": [0] * 101})
    token = SERVING_SETTINGS.set(Settings(batch_max=3, secret_key="k" * 40))
    try:
        limited.model_validate({"configured": [0] * 3})
        assert too_long(limited, {"configured": [0] * 4})["ctx"]["max_length"] == 3
    finally:
        SERVING_SETTINGS.reset(token)
    limited.model_validate({"configured": [0] * 100})


def test_count_first_leaves_other_errors_and_the_schema_to_the_list() -> None:
    limited = Limited
    with pytest.raises(ValidationError) as caught:
        limited.model_validate({"fixed": "no"})
    assert caught.value.errors()[0]["type"] == "list_type"
    with pytest.raises(ValidationError) as caught:
        limited.model_validate({"fixed": ["a"]})
    assert caught.value.errors()[0]["type"] == "int_parsing"
    schema = limited.model_json_schema()["properties"]
    assert schema["fixed"]["maxItems"] == 2
    assert "maxItems" not in schema["configured"]  # documented in words where it is used
    assert ShareRequest.model_json_schema()["properties"]["users"]["maxItems"] == 100
    assert TransactionRequest.model_json_schema()["properties"]["operations"]["maxItems"] == 100
