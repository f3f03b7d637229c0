"""Authority console (reviewers, admins) and its API. See the issue "web service", part 3."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
