"""Count how often a Python function runs, wherever it is referenced from.

Pydantic compiles a validator function into the schema of every model that uses it, so
patching the module attribute changes nothing; a profile hook matching the function's code
object counts every call, including the ones pydantic-core makes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any


@dataclass
class Calls:
    count: int = 0


@contextmanager
def count_calls(func: Callable[..., Any]) -> Iterator[Calls]:
    """Count the calls of ``func`` made on this thread inside the block."""
    code = func.__code__
    calls = Calls()
    previous = sys.getprofile()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            calls.count += 1

    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(previous)
