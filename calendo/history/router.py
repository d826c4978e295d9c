"""HTTP routes of the history domain."""

from fastapi import APIRouter

router = APIRouter(tags=["history"])
