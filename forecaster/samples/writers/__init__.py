"""Sample writers, one module per log family; importing this package registers them all."""

from . import alb, apigateway, counts, envoy, kong, weblog  # noqa: F401  (registration side effect)
from .base import Pools, SampleWriter, all_writers, get_writer, register

__all__ = ["Pools", "SampleWriter", "all_writers", "get_writer", "register"]
