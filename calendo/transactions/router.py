"""HTTP routes of the transactions domain."""

from fastapi import APIRouter

router = APIRouter(tags=["transactions"])
