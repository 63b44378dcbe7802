"""AWS clients of the control plane and the one way every adapter calls them.

``call`` retries throttling, 5xx and timeouts with exponential backoff (``aws.max_attempts``,
``aws.retry_base_s``; botocore's own retries are off so the schedule is ours and logged), and turns
botocore's exceptions into :class:`ControlError` messages that say which call, on what, and why —
never the credentials.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from ..config import Settings
from .errors import ControlError

log = logging.getLogger(__name__)

RETRYABLE_CODES = {"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
                   "RequestLimitExceeded", "PriorRequestNotComplete", "ServiceUnavailable",
                   "InternalFailure", "InternalError", "ConcurrentUpdateException"}
CREDENTIAL_CODES = {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
                    "InvalidSignatureException", "SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException",
                    "MissingAuthenticationTokenException", "IncompleteSignature"}


def make_client(settings: Settings, service: str, region: str | None = None):
    """A boto3 client for ``service`` with the ``aws`` settings (region, endpoint, timeouts)."""
    import boto3
    from botocore.config import Config

    cfg = Config(connect_timeout=settings.aws.timeout_s, read_timeout=settings.aws.timeout_s,
                 retries={"total_max_attempts": 1, "mode": "standard"})
    region = region or settings.aws.region or settings.aws_region
    return boto3.session.Session().client(service, region_name=region, endpoint_url=settings.aws.endpoint_url,
                                          config=cfg)


class Clients:
    """Lazily made clients, one per service, shared by the adapters of one plan/apply."""

    def __init__(self, settings: Settings, factory: Callable[..., Any] = make_client):
        self.settings, self.factory = settings, factory
        self._made: dict[tuple[str, str | None], Any] = {}

    def __call__(self, service: str, region: str | None = None):
        """The client of ``service`` in ``region`` (None: the ``aws`` settings' region)."""
        if (service, region) not in self._made:
            self._made[(service, region)] = self.factory(self.settings, service, region)
        return self._made[(service, region)]


def _retryable(e: Exception) -> bool:
    from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, ReadTimeoutError

    if isinstance(e, (ReadTimeoutError, BotoConnectionError)):
        return True
    if isinstance(e, ClientError):
        code = e.response.get("Error", {}).get("Code", "")
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        return code in RETRYABLE_CODES or status >= 500 or status == 429
    return False


def describe(e: Exception) -> str:
    """What went wrong, in words, without request signatures or keys."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

    if isinstance(e, NoCredentialsError):
        return ("no AWS credentials found (boto3's chain: environment, shared credentials/config file, "
                "container or instance role)")
    if isinstance(e, PartialCredentialsError):
        return f"incomplete AWS credentials: {e}"
    if isinstance(e, NoRegionError):
        return "no AWS region: set [aws] region (or AWS_REGION)"
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        code, msg = err.get("Code", "?"), err.get("Message", "")
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        hint = ""
        if code in CREDENTIAL_CODES:
            hint = " (the credentials are expired, invalid or lack permission: see docs/iam-control-policy.json)"
        return f"{code} (HTTP {status}): {msg}{hint}"
    return f"{type(e).__name__}: {e}"


def call(settings: Settings, client, operation: str, what: str, **params) -> dict:
    """``client.<operation>(**params)`` with retries; raises ControlError naming ``what`` on failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempts = settings.aws.max_attempts
    for attempt in range(1, attempts + 1):
        try:
            return getattr(client, operation)(**params)
        except (ClientError, BotoCoreError) as e:
            if attempt < attempts and _retryable(e):
                delay = settings.aws.retry_base_s * 2 ** (attempt - 1)
                log.warning("%s: %s failed (%s), attempt %d/%d, retrying in %.2fs", what, operation,
                            describe(e), attempt, attempts, delay)
                time.sleep(delay)
                continue
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            raise ControlError(f"{what}: {operation} failed{tries}: {describe(e)}", code=_code(e)) from e
    raise AssertionError("unreachable")


def _code(e: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(e, ClientError):
        return str(e.response.get("Error", {}).get("Code", ""))
    return type(e).__name__

