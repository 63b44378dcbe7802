"""Ingest: access logs from files, gzip, stdin, S3 and CloudWatch Logs into DuckDB, exactly once."""

from . import cwlogs, s3  # noqa: F401  (register the cwlogs:// and s3:// source schemes)
from .loader import IngestReport, SourceReport, ingest

__all__ = ["IngestReport", "SourceReport", "ingest"]
