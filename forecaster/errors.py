"""Exception hierarchy. Every error knows its HTTP status, so the API maps them in one place."""

from __future__ import annotations


class ForecasterError(Exception):
    """Base of every error this package raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": str(self)}}


class BadInput(ForecasterError):
    """The caller gave something we cannot use; the message says what was expected and what came."""

    status = 400
    code = "bad_input"


class ConfigError(BadInput):
    status = 400
    code = "config_error"


class UnknownName(BadInput, ValueError):
    """An unknown registry name (format, model, policy...). Lists the known ones."""

    code = "unknown_name"

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(self.known)}")


class InsufficientHistory(BadInput):
    """A series is too short (or all missing) for a model; the orchestrator falls back to seasonal naive."""

    code = "insufficient_history"


class NotFound(ForecasterError):
    """What the caller named does not exist (a run id, a series...)."""

    status = 404
    code = "not_found"


class ModelError(ForecasterError):
    """A model produced something unusable (missing columns, wrong steps, non-finite values): our
    fault or the model's, not the caller's; the run falls back to seasonal naive and records it."""

    status = 500
    code = "model_error"


class SeriesTimeout(ForecasterError):
    """One series' fit took longer than its budget (``forecast_timeout_s``); it falls back to seasonal naive."""

    status = 504
    code = "series_timeout"


class SourceError(ForecasterError):
    """A source could not be read at all (missing file, denied bucket...)."""

    status = 422
    code = "source_error"


class StoreLocked(ForecasterError):
    """The DuckDB file is held by another process longer than ``db_lock_timeout_s``."""

    status = 503
    code = "store_locked"


class SchemaTooNew(ForecasterError):
    """The database file was written by a newer forecaster than this one: refused, never downgraded."""

    code = "schema_too_new"


class MigrationFailed(ForecasterError):
    """A schema migration step failed; it was rolled back and the file is at the last good version."""

    code = "migration_failed"


class Conflict(ForecasterError):
    """The request clashes with what exists (a name already taken, a change already made)."""

    status = 409
    code = "conflict"


class Unauthorized(ForecasterError):
    """No credentials, or credentials we do not know (the API answers 401 with WWW-Authenticate)."""

    status = 401
    code = "unauthorized"


class Forbidden(ForecasterError):
    """Known credentials without the role the operation needs."""

    status = 403
    code = "forbidden"


class TooLarge(ForecasterError):
    """A request body past the configured size limit."""

    status = 413
    code = "too_large"


class Interrupted(ForecasterError):
    """A pipeline run stopped before it finished (shutdown, or the process ended)."""

    status = 409
    code = "interrupted"


def is_interrupt(e: BaseException) -> bool:
    """Ctrl-C, in whichever form it arrives: ``KeyboardInterrupt``, or the ``RuntimeError("Query
    interrupted")`` DuckDB raises instead when the signal comes while one of its queries runs (it
    handles the signal itself and the ``KeyboardInterrupt`` never reaches Python)."""
    return isinstance(e, KeyboardInterrupt) or (type(e) is RuntimeError and str(e) == "Query interrupted")


class DuplicateName(Conflict, ValueError):
    """A registry name registered twice (``forecaster.registry``)."""

    code = "duplicate_name"

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name
        super().__init__(f"{kind} {name!r} is already registered")
