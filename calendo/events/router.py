"""HTTP routes of the events domain."""

from fastapi import APIRouter

router = APIRouter(tags=["events"])
