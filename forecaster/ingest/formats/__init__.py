"""Log formats, one module each; importing this package registers them all."""

from . import alb, apigateway, apigateway_v2, counts, envoy, kong, llm, weblog  # noqa: F401  (registration side effect)
from .base import CANONICAL, LogFormat, all_formats, get_format, register

__all__ = ["CANONICAL", "LogFormat", "all_formats", "get_format", "register"]
