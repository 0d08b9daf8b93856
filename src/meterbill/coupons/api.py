"""/api/v1/coupons and /api/v1/applied_coupons."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
