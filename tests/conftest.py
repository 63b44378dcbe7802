"""Shared fixtures. AWS: one real moto HTTP server on a loopback port for the whole session.

Use ``moto_endpoint`` (the URL) with ``aws_settings`` (Settings pointing every AWS client at it)
or ``aws_client("s3")`` (a boto3 client for arranging test data). The server keeps its state for
the session, so each test names its own buckets / log groups (``aws_name``).
"""

from __future__ import annotations

import uuid
from typing import Callable, Iterator

import pytest

AWS_REGION = "us-east-1"
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": AWS_REGION,
    "AWS_REGION": AWS_REGION,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",          # never pick up a real profile
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server (HTTP server mode, threaded) on 127.0.0.1 and a free port, with dummy
    credentials in the environment (and no real profile reachable) while the session lasts."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        for k, v in DUMMY_AWS_ENV.items():
            mp.setenv(k, v)
        mp.delenv("AWS_PROFILE", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def aws_settings(moto_endpoint, tmp_path):
    """Settings whose S3 and CloudWatch Logs clients talk to the moto server."""
    from forecaster.config import Settings

    return Settings(db=tmp_path / "aws.duckdb", s3_endpoint_url=moto_endpoint, logs_endpoint_url=moto_endpoint,
                    aws_region=AWS_REGION)


@pytest.fixture
def aws_client(moto_endpoint) -> Callable:
    """``aws_client("s3")``: a boto3 client for the moto server, to arrange test data."""
    import boto3

    def make(service: str):
        return boto3.session.Session().client(service, endpoint_url=moto_endpoint, region_name=AWS_REGION,
                                              aws_access_key_id="testing", aws_secret_access_key="testing")

    return make


@pytest.fixture
def aws_name(request) -> str:
    """A bucket / log group name unique to this test (the moto server is shared by the session)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    return f"{base}-{uuid.uuid4().hex[:8]}"


def pytest_configure(config):   # moto's threaded server logs each request at INFO through werkzeug
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """(connection, settings) of a store holding the samples, forecast and priced (the demo's data),
    for the session: dashboards and notebooks read it; tests that write take a copy."""
    from forecaster.sample_store import sample_store

    con, settings = sample_store(tmp_path_factory.mktemp("demo-store") / "demo.duckdb")
    yield con, settings
    con.close()
