"""``s3://bucket/prefix``: every object under a prefix, streamed, loaded once per (key, ETag).

Each object is one :class:`~.sources.Source` with ``uri="s3://bucket/key"`` and its ETag, so the
loader skips an object it has loaded before and loads it again once it is overwritten (new ETag;
its request ids dedupe the overlap). The prefix is a plain key prefix, as in ``aws s3 ls``:
``s3://b/logs`` also matches ``logs2/...``; end it with ``/`` to mean a folder.

Keys ending in ``/`` (console "folders") and zero-byte objects (``_SUCCESS`` markers) hold no
log lines: they are not sources; their number and first keys are logged at INFO.

Objects are read with ``GetObject`` + ``If-Match: <ETag>`` (the bytes loaded are the bytes
listed) through ``StreamingBody.read(n)``, never whole. gzip is found by magic bytes, and
CloudWatch Logs subscription records (Firehose output) are unpacked, by the open path shared
with local files (:func:`~.sources.decode_stream`). A read that breaks off (network, deleted
object) fails the source: its transaction rolls back and the next run reads it again.
"""

from __future__ import annotations

import functools
import io
import logging
from typing import Any, BinaryIO, Iterator

from ..errors import SourceError
from .sources import Source, decode_stream, register_scheme

log = logging.getLogger(__name__)

READ_BYTES = 8 << 20         # at most this much per StreamingBody.read
_DENIED = {"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}


class ObjectReadError(SourceError, ValueError):
    """An object could not be read to its end. A ValueError, so the loader fails (and rolls back)
    the source rather than keep a part of it as a damaged stream."""


def s3_client(settings: Any):
    """A boto3 S3 client for ``settings`` (endpoint override, region), cached per process."""
    return _s3_client(getattr(settings, "s3_endpoint_url", None), getattr(settings, "aws_region", None))


@functools.lru_cache(maxsize=8)
def _s3_client(endpoint: str | None, region: str | None):
    import boto3   # imported here: the CLI does not pay for boto3 unless it reads AWS
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60,
                 s3={"addressing_style": "path"} if endpoint else None)   # MinIO / moto: path-style
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=cfg)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix); the prefix may be empty (the whole bucket)."""
    rest = uri[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise SourceError(f"{uri}: expected s3://BUCKET/PREFIX, the bucket name is missing")
    return bucket, prefix


def expand_s3(uri: str, settings: Any, con: Any = None) -> Iterator[Source]:
    """One source per object under the prefix, in key order."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_s3_uri(uri)
    client = s3_client(settings)
    found, markers = 0, []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key, size = obj["Key"], int(obj["Size"])
                if key.endswith("/") or size == 0:
                    markers.append(key)
                    continue
                found += 1
                yield _object_source(client, bucket, key, size, obj["ETag"], obj["LastModified"].timestamp())
    except ClientError as e:
        raise SourceError(_explain(uri, bucket, e, "s3:ListBucket")) from None
    except BotoCoreError as e:
        raise SourceError(f"{uri}: cannot list the objects: {type(e).__name__}: {e}") from None
    if markers:
        log.info("%s: skipped %d folder marker(s) / zero-byte object(s), e.g. %s", uri, len(markers),
                 ", ".join(markers[:5]))
    if not found:
        raise SourceError(f"{uri}: no object under the prefix ({len(markers)} zero-byte marker(s) skipped)")


def _explain(uri: str, bucket: str, e: Any, action: str) -> str:
    code = str(e.response.get("Error", {}).get("Code", ""))
    if code in ("NoSuchBucket", "404"):
        return f"{uri}: no such bucket {bucket!r}"
    if code in _DENIED:
        return f"{uri}: access denied ({code}); reading needs {action} on arn:aws:s3:::{bucket} (docs/aws.md)"
    return f"{uri}: {code or 'error'}: {e.response.get('Error', {}).get('Message', e)}"


def _object_source(client, bucket: str, key: str, size: int, etag: str, mtime: float) -> Source:
    uri = f"s3://{bucket}/{key}"
    src = Source(uri=uri, opener=lambda: _open(client, bucket, key, etag, src), size=size, mtime=mtime,
                 etag=etag.strip('"'))
    return src


def _open(client, bucket: str, key: str, etag: str, src: Source) -> BinaryIO:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = client.get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"]
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        if code in ("PreconditionFailed", "412"):
            raise ObjectReadError(f"{src.uri}: changed since it was listed (ETag {etag} no longer matches); "
                                  f"the next run loads the new version") from None
        raise ObjectReadError(_explain(src.uri, bucket, e, "s3:GetObject")) from None
    except BotoCoreError as e:
        raise ObjectReadError(f"{src.uri}: cannot open: {type(e).__name__}: {e}") from None
    raw = io.BufferedReader(_BodyReader(body, src.uri, src.size), buffer_size=1 << 20)
    return decode_stream(raw, src.uri, src.extra)


class _BodyReader(io.RawIOBase):
    """A botocore StreamingBody as a raw stream; any failure mid-way becomes :class:`ObjectReadError`."""

    def __init__(self, body, uri: str, size: int | None):
        self._body, self._uri, self._size, self._got = body, uri, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        from botocore.exceptions import BotoCoreError

        try:
            data = self._body.read(min(len(b), READ_BYTES))
        except (BotoCoreError, OSError) as e:   # StreamingBody wraps urllib3's timeouts and protocol errors
            raise ObjectReadError(f"{self._uri}: read broke off after {self._got} of {self._size} bytes: "
                                  f"{type(e).__name__}: {e}") from None
        n = len(data)
        b[:n] = data
        self._got += n
        if n == 0 and self._size is not None and self._got < self._size:
            raise ObjectReadError(f"{self._uri}: stream ended after {self._got} of {self._size} bytes")
        return n

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


register_scheme("s3", expand_s3)
