"""The ``api_keys`` table: API keys by id, name and role; only a hash of each key is stored.

A key reads ``fk_<key_id>_<secret>``: the id finds the row, the SHA-256 of the whole key is compared
with the stored one in constant time (``hmac.compare_digest``). The secret is 32 random bytes, so a
fast hash is enough (no password stretching needed for keys nobody chose).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..errors import BadInput, NotFound
from .db import one, run, utcnow

ROLES = ("reader", "operator", "admin")   # each includes the ones before it


@dataclass
class ApiKey:
    key_id: str
    name: str
    role: str
    created: dt.datetime
    revoked: dt.datetime | None

    def to_dict(self) -> dict:
        return {"id": self.key_id, "name": self.name, "role": self.role, "created": self.created.isoformat(),
                "revoked": None if self.revoked is None else self.revoked.isoformat()}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create(con, name: str, role: str) -> tuple[ApiKey, str]:
    """Store a new key for ``name`` with ``role``; returns it and the key text (shown once, never stored)."""
    if role not in ROLES:
        raise BadInput(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    name = name.strip()
    if not name or len(name) > 200:
        raise BadInput(f"key name must be 1..200 characters, got {len(name)}")
    key_id = secrets.token_hex(6)
    key = f"fk_{key_id}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    run(con, "INSERT INTO api_keys (key_id, name, role, key_hash, created) VALUES (?, ?, ?, ?, ?)",
        [key_id, name, role, _hash(key), now])
    return ApiKey(key_id, name, role, now, None), key


def verify(con, key: str) -> ApiKey | None:
    """The live key ``key`` is, or None (unknown, malformed or revoked)."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "fk" or not parts[1]:
        return None
    row = one(con, "SELECT key_id, name, role, created, revoked, key_hash FROM api_keys WHERE key_id = ?", [parts[1]])
    if row is None or not hmac.compare_digest(row[5], _hash(key)) or row[4] is not None:
        return None
    return ApiKey(*row[:5])


def list_keys(con, include_revoked: bool = False) -> list[ApiKey]:
    rows = run(con, "SELECT key_id, name, role, created, revoked FROM api_keys "
                    f"{'' if include_revoked else 'WHERE revoked IS NULL'} ORDER BY created, key_id")
    return [ApiKey(*r) for r in rows]


def revoke(con, key_id_or_name: str) -> list[ApiKey]:
    """Revoke the live key with this id, or every live key with this name; the keys revoked."""
    rows = run(con, "SELECT key_id, name, role, created, revoked FROM api_keys "
                    "WHERE (key_id = ? OR name = ?) AND revoked IS NULL", [key_id_or_name, key_id_or_name])
    if not rows:
        raise NotFound(f"no live API key with id or name {key_id_or_name!r}")
    now = utcnow()
    ids = [r[0] for r in rows]
    run(con, f"UPDATE api_keys SET revoked = ? WHERE key_id IN ({', '.join('?' * len(ids))})", [now, *ids])
    return [ApiKey(r[0], r[1], r[2], r[3], now) for r in rows]
