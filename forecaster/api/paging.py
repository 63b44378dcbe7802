"""Cursor pagination: an opaque cursor is the key of the last row served (base64url JSON)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from ..errors import BadInput


def encode(key: list | None) -> str | None:
    """Each value as ``[tag, value]`` (``t``: a timestamp, ``v``: JSON as is), so types survive."""
    if key is None:
        return None
    tagged = [["t", v.isoformat()] if isinstance(v, dt.datetime) else ["v", v] for v in key]
    return base64.urlsafe_b64encode(json.dumps(tagged, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> list | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadInput(f"cursor {cursor[:40]!r} is not one this API gave out; pass next_cursor of the previous page") from None
    try:
        if not isinstance(key, list):
            raise ValueError(key)
        return [dt.datetime.fromisoformat(v) if tag == "t" else v for tag, v in key]
    except (TypeError, ValueError):
        raise BadInput("cursor is not one this API gave out; pass next_cursor of the previous page") from None


def check_limit(limit: int, most: int) -> int:
    if not 1 <= limit <= most:
        raise BadInput(f"limit must be between 1 and {most} (api_page_max), got {limit}")
    return limit


def page_body(items: list[dict[str, Any]], last: list | None, **extra: Any) -> dict[str, Any]:
    return {**extra, "items": items, "next_cursor": encode(last)}
