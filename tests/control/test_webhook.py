"""The webhook adapter against a real local HTTP server that checks every HMAC-SHA256 signature."""

from __future__ import annotations

import logging

import pytest

from forecaster.config import Target
from forecaster.control.adapters import get
from forecaster.control.aws import Clients
from forecaster.control.errors import ControlError

from .servers import Gateway

SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def gateway():
    gw = Gateway(SECRET)
    yield gw
    gw.close()


@pytest.fixture
def env_secret(monkeypatch):
    monkeypatch.setenv("FORECASTER_TEST_WEBHOOK_SECRET", SECRET)


def target(gw, **kw):
    return Target(kind="webhook", url=gw.url + "/limits", secret_env="FORECASTER_TEST_WEBHOOK_SECRET", **kw)


def test_signed_set_read_and_remove(control_settings, gateway, env_secret, caplog):
    caplog.set_level(logging.DEBUG)
    c = Clients(control_settings())
    a, t = get("webhook"), target(gateway)
    key = "throttle:kong-api|prod|GET /items"
    assert a.read(c, t, [key]) == {key: None}
    req = a.request(t, key, None, {"rate_limit_rps": 40.0, "burst_limit": 80})
    assert a.send(c, t, key, {**req, "recommendation_id": "r1"}) == {"rate_limit_rps": 40.0, "burst_limit": 80}
    assert a.read(c, t, [key]) == {key: {"rate_limit_rps": 40.0, "burst_limit": 80}}
    assert a.send(c, t, key, a.request(t, key, None, None)) is None
    assert gateway.rejected == 0 and len(gateway.received) == 4
    assert all(r["headers"]["X-Forecaster-Signature"].startswith("sha256=") for r in gateway.received)
    assert SECRET not in str(req) and SECRET not in caplog.text


def test_wrong_secret_is_rejected_by_the_gateway_and_reported(control_settings, gateway, monkeypatch):
    monkeypatch.setenv("FORECASTER_TEST_WEBHOOK_SECRET", "not-the-secret")
    with pytest.raises(ControlError, match="HTTP 401") as e:
        get("webhook").read(Clients(control_settings()), target(gateway), ["k"])
    assert gateway.rejected == 1 and "not-the-secret" not in str(e.value)


def test_missing_secret_variable_is_a_clear_error(control_settings, gateway, monkeypatch):
    monkeypatch.delenv("FORECASTER_TEST_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ControlError, match="FORECASTER_TEST_WEBHOOK_SECRET is not set"):
        get("webhook").read(Clients(control_settings()), target(gateway), ["k"])
    assert gateway.received == []


def test_a_webhook_that_times_out_is_retried_then_reported(control_settings, gateway, env_secret):
    gateway.delay_s = 0.6
    s = control_settings(aws={"max_attempts": 2})
    with pytest.raises(ControlError, match=r"webhook GET .* failed after 2 attempts: timed out after 0.2s"):
        get("webhook").read(Clients(s), target(gateway, timeout_s=0.2), ["k"])
    assert gateway.arrived == 2


def test_a_url_with_credentials_is_refused_by_the_config():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must not carry credentials"):
        Target(kind="webhook", url="https://admin:hunter2@gw.internal/limits", secret_env="X")
