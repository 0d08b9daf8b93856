"""/api/v1/add_ons."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
