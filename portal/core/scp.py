"""Build the portal's ScpClient from configuration, with the audit log as its observer."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from portal.audit.services import audit_scp_call
from portal.scp.client import CallRecord, ScpClient

from .config_access import scp_settings
from .context import current


def _audit_observer(record: CallRecord) -> None:
    audit_scp_call(record=record)


def _correlation_id() -> str:
    """The audit log's correlation id of what is calling, sent along so that SCP's log and ours meet."""
    return current().correlation_id


def scp_language() -> str:
    """SCP's Accept-Language for this call: Korean for a Korean reader (a page's user, or the requester whose
    request a worker carries out), otherwise the configured SCP_ACCEPT_LANGUAGE."""
    if (translation.get_language() or "").startswith("ko"):
        return "ko-KR"
    return settings.CONFIG.scp_accept_language


def scp_client(*, audited: bool = True, **overrides) -> ScpClient:
    """The configured client; `overrides` replace settings for one purpose (e.g. a probe's short timeouts)."""
    config = settings.CONFIG
    budget = {"read_timeout": min(config.scp_page_read_timeout, config.scp_read_timeout)} if current().page else {}
    return ScpClient(
        **{**scp_settings(), **budget, "accept_language": scp_language, "correlation_id": _correlation_id, **overrides},
        observer=_audit_observer if audited else None,
    )


def flush_records(observer, records: list[CallRecord]) -> None:
    """Hand buffered call records to an observer, in order."""
    if observer is not None:
        for record in records:
            observer(record)
