"""/api/v1/billable_metrics."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
