"""HTTP routes of the sharing domain."""

from fastapi import APIRouter

router = APIRouter(tags=["sharing"])
