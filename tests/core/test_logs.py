"""Log lines: JSON with the correlation id (the audit log's), the request id and the user; never a secret."""

import io
import json
import logging
import socket

import pytest
import structlog

from portal.audit.models import AuditEvent
from portal.core.logs import SecretMasker, logging_config


def handler_writing(settings, log_format: str) -> tuple[logging.Handler, io.StringIO]:
    """A handler with the portal's formatter for `log_format`, writing to the returned stream."""
    spec = logging_config(settings.CONFIG.model_copy(update={"log_format": log_format}))["formatters"]["portal"]
    factory = spec.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**spec))
    return handler, stream


@pytest.fixture
def json_lines(settings):
    """Every log line written while the test runs, rendered by the production (JSON) formatter."""
    handler, stream = handler_writing(settings, "json")
    root = logging.getLogger()
    root.addHandler(handler)
    loggers = [logging.getLogger(n) for n in ("django", "django_structlog")]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)
    for logger in loggers:
        logger.removeHandler(handler)
    logging_config(settings.CONFIG)  # structlog back to the session's configuration


def test_every_line_of_a_request_carries_its_correlation_id_request_id_and_user(client, requester, json_lines):
    client.force_login(requester)
    response = client.get("/requests/999999/")  # a refusal: audited, and logged
    assert response.status_code == 404
    correlation = response["X-Correlation-Id"]
    lines = [line for line in json_lines() if line.get("correlation_id") == correlation]
    assert lines, json_lines()
    events = {line["event"] for line in lines}
    assert {"request_started", "request_finished"} <= events
    for line in lines:
        assert line["request_id"] and line["user"] == "requester" and line["level"] and line["timestamp"]
    audit = AuditEvent.objects.get(action="interface_request.access")
    assert audit.correlation_id == correlation  # the same id joins the log lines to the audit event


def test_lines_outside_a_request_still_have_the_keys(json_lines):
    logging.getLogger("portal.test").warning("plain %s", "line")
    [line] = [x for x in json_lines() if x["event"] == "plain line"]
    assert line["correlation_id"] is None and line["request_id"] is None and line["user"] is None


def test_a_secret_logged_by_mistake_is_masked(json_lines, settings):
    secret = settings.CONFIG.scp_secret_key.get_secret_value()
    logging.getLogger("portal.test").error("calling with %s", secret)
    structlog.get_logger("portal.test").info("bound", key=f"x{secret}y")
    text = json.dumps(json_lines())
    assert secret not in text and "********" in text


def test_the_masker_leaves_short_values_and_other_text_alone():
    masker = SecretMasker(["0123456789abcdef"])
    assert masker.mask("a 0123456789abcdef b") == "a ******** b"
    assert masker.mask("nothing here") == "nothing here"


def test_a_callbacks_code_and_state_never_reach_a_log_line(client, db, json_lines):
    code, state = "c0de-from-the-idp-7f3a", "st4te-of-the-sign-in-91bc"
    client.get(f"/oidc/callback/?code={code}&state={state}&iss=x")
    client.get(f"/servers/?access_token={code}&id_token={state}")
    text = json.dumps(json_lines())
    assert "/oidc/callback/" in text  # the request was logged
    assert code not in text and state not in text
    assert "code=********&state=********" in text


def test_console_lines_leave_out_what_nothing_set(settings):
    handler, stream = handler_writing(settings, "console")
    logger = logging.getLogger("portal.test.console")
    logger.addHandler(handler)
    try:
        with socket.socket() as sock:
            logger.warning("plain line", extra={"request": sock})
    finally:
        logger.removeHandler(handler)
        logging_config(settings.CONFIG)
    line = stream.getvalue()
    assert "plain line" in line and "=None" not in line and "socket" not in line
