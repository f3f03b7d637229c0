"""Holder portal (我的证照) and its API. See the issue "web service", part 2."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
