"""Ingest: access logs from files, gzip, stdin, S3 and CloudWatch Logs into DuckDB, exactly once."""

from .loader import IngestReport, SourceReport, ingest

__all__ = ["IngestReport", "SourceReport", "ingest"]
