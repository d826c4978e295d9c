"""The event factories, shared with the sharing tests."""

from tests.events.conftest import make_event, shared_event

__all__ = ["make_event", "shared_event"]
