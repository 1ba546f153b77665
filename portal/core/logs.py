"""Logging: one JSON object a line in production (console text under DEBUG), every line carrying who and which
request or task it belongs to: the correlation id (the same as the audit log's), the request id and the user.

Secrets never reach a log line: the values of the configured secrets are masked in every line, whatever logged
them, as a last line of defence behind the code never logging them.
"""

from __future__ import annotations

import logging
import re
import socket

import structlog
from django.conf import settings

MASK = "********"
# Query parameters that carry a credential or a one-time secret (the OIDC callback's code and state, a token in
# an address): their values never reach a log line, whichever logger writes the address.
SECRET_PARAMETERS = re.compile(
    r"(?i)([?&;](?:code|state|nonce|token|access_token|id_token|refresh_token|session_state|code_verifier)=)"
    r"[^&;\s\"'#]*"
)


def scrub_query(text: str) -> str:
    return SECRET_PARAMETERS.sub(lambda m: m.group(1) + MASK, text) if "=" in text else text


def _secrets(config) -> list[str]:
    values = [
        config.secret_key,
        config.scp_secret_key,
        config.oidc_client_secret,
        config.email_host_password,
        config.metrics_token,
    ]
    return [v.get_secret_value() for v in values if v is not None and len(v.get_secret_value()) >= 8]


class SecretMasker:
    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets

    def mask(self, text: str) -> str:
        text = scrub_query(text)
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __call__(self, logger, method, event_dict):
        for key, value in event_dict.items():
            if isinstance(value, str):
                event_dict[key] = self.mask(value)
            elif value is not None and not isinstance(value, int | float | bool | list | dict | tuple):
                event_dict[key] = self.mask(str(value))  # an object (a request) renders as its text: masked too
        return event_dict


def mask_secrets(text: str) -> str:
    """`text` with the configured secrets masked: for what is stored from an exception's message."""
    return SecretMasker(_secrets(settings.CONFIG)).mask(text)


def _with_context(logger, method, event_dict):
    for key in CONTEXT_KEYS:
        event_dict.setdefault(key, None)
    return event_dict


def _without_sockets(logger, method, event_dict):
    """runserver's own lines pass their socket as `request`: noise in every line."""
    if isinstance(event_dict.get("request"), socket.socket):
        event_dict.pop("request")
    return event_dict


def _without_empty_context(logger, method, event_dict):
    """Console lines (development) leave out the context keys nothing set; JSON lines keep every key."""
    for key in CONTEXT_KEYS:
        if event_dict.get(key, "") is None:
            event_dict.pop(key)
    return event_dict


# Every key the portal and django-structlog bind per request. structlog creates a key's ContextVar on first use,
# unguarded: two threads of a fresh gunicorn worker binding the same new key at once each create one, and the
# loser's reset then fails ("created by a different ContextVar") with a 500. Creating them here, while settings
# load in one thread, leaves nothing to race for.
CONTEXT_KEYS = ("correlation_id", "user", "request_id", "user_id", "ip", "request", "user_agent", "code")


def _create_context_vars() -> None:
    tokens = structlog.contextvars.bind_contextvars(**dict.fromkeys(CONTEXT_KEYS))
    structlog.contextvars.reset_contextvars(**tokens)


def logging_config(config) -> dict:
    """Django's LOGGING, and structlog configured to render through the same handler."""
    _create_context_vars()
    fmt = config.log_format or ("console" if config.debug else "json")
    masker = SecretMasker(_secrets(config))
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _with_context,
    ]
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "portal": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": [*shared, structlog.stdlib.ExtraAdder()],
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _without_sockets,
                    masker,
                    *([] if fmt == "json" else [_without_empty_context]),
                    renderer,
                ],
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "portal"}},
        "root": {"handlers": ["console"], "level": config.log_level},
        "loggers": {
            # Django's default config gives "django" a console handler of its own (when DEBUG) and lets it
            # propagate to the root's too: every line was printed twice.
            "django": {"handlers": ["console"], "level": config.log_level, "propagate": False},
            "django.db.backends": {"level": "WARNING"},
            "django_structlog": {"level": config.log_level},
        },
    }


def bind_context(*, correlation_id: str, user: str) -> dict:
    """Put the correlation id and the user on every log line from here on; returns tokens for `unbind_context`."""
    return structlog.contextvars.bind_contextvars(correlation_id=correlation_id, user=user or None)


def unbind_context(tokens: dict) -> None:
    structlog.contextvars.reset_contextvars(**tokens)


def plain_json_formatter() -> logging.Formatter:
    """JSON lines for processes that log before Django is set up (gunicorn's master and its worker boots)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _with_context,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            SecretMasker([]),  # no configuration here: the query parameters' scrubbing only
            structlog.processors.JSONRenderer(),
        ],
    )
