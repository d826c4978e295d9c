"""HTTP routes of the sync domain."""

from fastapi import APIRouter

router = APIRouter(tags=["sync"])
