"""/api/v1/plans and their nested charges."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
