"""DuckDB store: the one door every query goes through.

``db`` opens the file (the connection policy: one writer that migrates, read-only readers that never
do, a held file waited for then named) and runs statements; ``migrations`` keeps the schema
current; one repository module per table owner holds that owner's SQL: ``traffic`` (traffic_1m),
``sources`` (sources, rejects, requests), ``runs``, ``forecasts`` (forecasts, backtests, spikes),
``costs`` and ``carbon``. Only this package imports duckdb (an import-linter contract checks it).
"""

from .db import Connection, DatabaseError, Relation, connect, cursor, open_reader, open_store, transaction, utcnow

__all__ = ["Connection", "DatabaseError", "Relation", "connect", "cursor", "open_reader", "open_store", "transaction", "utcnow"]
