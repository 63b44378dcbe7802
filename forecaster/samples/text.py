"""Vectorised text building for the log writers: whole columns at once, no Python loop per line.

Columns are Arrow string arrays; :func:`join` concatenates columns and literals element-wise
in C++ (``binary_join_element_wise``). Timestamps are formatted as character matrices (numpy), not with strftime per value.
"""

from __future__ import annotations

from typing import BinaryIO, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Part = Union[str, pa.Array]

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_B64 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8)


def join(*parts: Part) -> pa.Array:
    """Element-wise concatenation of string columns and literals (at least one part is a column)."""
    args = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, "")


def ints(a: np.ndarray) -> pa.Array:
    """Integers as decimal text."""
    return pc.cast(pa.array(np.asarray(a, dtype=np.int64)), pa.string())


def padded(a: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(ints(a), width, "0")


def millis_as_seconds(ms: np.ndarray) -> pa.Array:
    """Milliseconds as seconds with 3 decimals: 35 -> '0.035'."""
    ms = np.asarray(ms, dtype=np.int64)
    return join(ints(ms // 1000), ".", padded(ms % 1000, 3))


def from_matrix(chars: np.ndarray) -> pa.Array:
    """An (n, width) uint8 matrix of ASCII as a string array."""
    n, width = chars.shape
    buf = pa.py_buffer(np.ascontiguousarray(chars).tobytes())
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, buf])
    return fixed.cast(pa.binary()).cast(pa.string())


def uuid4(rng: np.random.Generator, n: int) -> pa.Array:
    """Random version-4 UUIDs: 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2'."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    hx = np.empty((n, 32), dtype=np.uint8)
    hx[:, 0::2], hx[:, 1::2] = _HEX[b >> 4], _HEX[b & 15]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for (a, z), (s, e) in zip(((0, 8), (9, 13), (14, 18), (19, 23), (24, 36)),
                              ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))):
        out[:, a:z] = hx[:, s:e]
    return from_matrix(out)


def hex_ids(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    return from_matrix(_HEX[rng.integers(0, 16, size=(n, width))])


def b64_ids(rng: np.random.Generator, n: int, width: int = 15, suffix: str = "=") -> pa.Array:
    """AWS-style short ids ('BQ1k2HZ4oAMFbMA=' for extended request, connection and message ids)."""
    alphabet = _B64.copy()
    alphabet[62], alphabet[63] = ord("A"), ord("E")      # AWS ids use base64 letters and digits only
    m = alphabet[rng.integers(0, 64, size=(n, width))]
    if suffix:
        m = np.hstack([m, np.frombuffer(suffix.encode(), dtype=np.uint8)[None, :].repeat(n, 0)])
    return from_matrix(m)


_MONTHS = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", dtype=np.uint8).reshape(12, 3)
_TWO_DIGITS = np.array([[48 + i // 10, 48 + i % 10] for i in range(100)], dtype=np.uint8)
_FIELDS = {"%Y": 4, "%m": 2, "%d": 2, "%H": 2, "%M": 2, "%S": 2, "%b": 3}


def civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant's algorithm)."""
    z = np.asarray(days, dtype=np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (m <= 2), m, d


def strftime_seconds(epoch_s: np.ndarray, fmt: str) -> pa.Array:
    """Format whole UTC seconds; supports %Y %m %d %b %H %M %S and literal text (fixed width).

    Built as a character matrix with numpy: ~50x faster than ``pyarrow.compute.strftime``.
    """
    secs = np.asarray(epoch_s, dtype=np.int64)
    if len(secs) > 1024 and bool(np.all(secs[1:] >= secs[:-1])):   # sorted (log order): format each second once
        first = np.diff(secs, prepend=secs[0] - 1) != 0
        if not first.all():
            return strftime_seconds(secs[first], fmt).take(pa.array(np.cumsum(first) - 1))
    days, sod = np.divmod(secs, 86400)
    y, mo, d = civil_from_days(days)
    values = {"%Y": y, "%m": mo, "%d": d, "%H": sod // 3600, "%M": sod // 60 % 60, "%S": sod % 60}
    pieces, i = [], 0
    while i < len(fmt):
        tok = fmt[i:i + 2]
        if tok in _FIELDS:
            pieces.append(tok)
            i += 2
        else:
            if tok.startswith("%"):
                raise ValueError(f"strftime_seconds supports {sorted(_FIELDS)}, got {tok!r} in {fmt!r}")
            pieces.append(fmt[i])
            i += 1
    width = sum(_FIELDS.get(p, 1) for p in pieces)
    out = np.empty((len(secs), width), dtype=np.uint8)
    col = 0
    for p in pieces:
        if p == "%b":
            out[:, col:col + 3] = _MONTHS[mo - 1]
        elif p == "%Y":
            out[:, col:col + 2] = _TWO_DIGITS[values[p] // 100 % 100]
            out[:, col + 2:col + 4] = _TWO_DIGITS[values[p] % 100]
        elif p in values:
            out[:, col:col + 2] = _TWO_DIGITS[values[p]]
        else:
            out[:, col] = ord(p)
        col += _FIELDS.get(p, 1)
    return from_matrix(out)


def clf_time(ms: np.ndarray) -> pa.Array:
    """'22/Nov/2026:05:00:01 +0000' (CLF, API Gateway ``$context.requestTime``)."""
    return strftime_seconds(np.asarray(ms) // 1000, "%d/%b/%Y:%H:%M:%S +0000")


def iso_ms(ms: np.ndarray) -> pa.Array:
    """'2026-11-22T05:00:01.310Z'."""
    ms = np.asarray(ms, dtype=np.int64)
    return join(strftime_seconds(ms // 1000, "%Y-%m-%dT%H:%M:%S"), ".", padded(ms % 1000, 3), "Z")


def iso_us(us: np.ndarray) -> pa.Array:
    """'2026-11-22T05:00:01.310123Z' (ALB)."""
    us = np.asarray(us, dtype=np.int64)
    return join(strftime_seconds(us // 1_000_000, "%Y-%m-%dT%H:%M:%S"), ".", padded(us % 1_000_000, 6), "Z")


def ip_pool(rng: np.random.Generator, n: int, private: bool = False) -> pa.Array:
    """Dotted-quad addresses: documentation/CGNAT ranges for clients, 10/8 for private hosts."""
    if private:
        o = np.column_stack([np.full(n, 10), rng.integers(0, 256, (n, 2)), rng.integers(1, 255, n)])
    else:
        first = rng.choice(np.array([[198, 51, 100], [203, 0, 113], [192, 0, 2], [100, 64, 0]]), n)
        o = np.column_stack([first[:, 0], first[:, 1] + np.where(first[:, 0] == 100, rng.integers(0, 64, n), 0),
                             np.where(first[:, 0] == 100, rng.integers(0, 256, n), first[:, 2]),
                             rng.integers(1, 255, n)])
    return join(ints(o[:, 0]), ".", ints(o[:, 1]), ".", ints(o[:, 2]), ".", ints(o[:, 3]))


def write_lines(fh: BinaryIO, lines: pa.Array) -> int:
    """Write a string array whose values each end in '\\n' as one block; returns bytes written."""
    if len(lines) == 0:
        return 0
    width = np.int64 if lines.type == pa.large_string() else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)[lines.offset: lines.offset + len(lines) + 1]
    data = memoryview(lines.buffers()[2])[int(offsets[0]):int(offsets[-1])]
    fh.write(data)
    return len(data)
