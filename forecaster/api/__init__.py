"""The REST API (FastAPI) under ``/v1``: an app factory, one router per resource, auth, one error shape.

``create_app(settings)`` builds the app over a :class:`forecaster.runtime.Runtime` (the process's
writer connection and per-thread cursors); ``forecaster serve`` runs it with the scheduler.
"""

from .app import create_app

__all__ = ["create_app"]
