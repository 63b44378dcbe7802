"""DuckDB store: schema, connection, migrations and the queries other modules share."""

from .db import connect, open_store, transaction

__all__ = ["connect", "open_store", "transaction"]
