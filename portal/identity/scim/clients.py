"""SCIM clients: the IdPs allowed to provision, each with one bearer token (`scim_<prefix>_<secret>`, kept as its
SHA-256, shown once). Adding, rotating and removing one is audited; a refused token is counted like every
anonymous refusal (the first of a window an event, a source over the limit answered 429)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.refusals import over_limit, refusal_counted
from portal.audit.services import record_event

from ..models import ScimClient

TOKEN_SHAPE = re.compile(r"^(?P<prefix>scim_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$")


class ClientRefused(Exception):
    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(reason)


@dataclass(frozen=True)
class NewToken:
    client: ScimClient
    secret: str


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_secret() -> tuple[str, str]:
    while True:
        prefix = f"scim_{secrets.token_hex(4)}"
        if not ScimClient.objects.filter(token_prefix=prefix).exists():
            return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def _audit(client: ScimClient, change: str) -> None:
    record_event(
        action=AuditAction.SCIM_CLIENT_CHANGED,
        outcome=Outcome.SUCCESS,
        payload={"idp": client.name, "issuer": client.issuer, "change": change, "token": client.token_prefix},
        target=client.name,
    )


@transaction.atomic
def client_add(*, name: str, issuer: str) -> NewToken:
    if ScimClient.objects.filter(name=name).exists():
        raise ValueError(f"a SCIM client named {name!r} exists already")
    prefix, secret = _new_secret()
    client = ScimClient.objects.create(
        name=name, issuer=issuer.rstrip("/"), token_prefix=prefix, token_hash=_digest(secret), created_at=timezone.now()
    )
    _audit(client, "added")
    return NewToken(client, secret)


@transaction.atomic
def client_rotate(client: ScimClient) -> NewToken:
    """A new token for `client`; the old one stops working at once."""
    prefix, secret = _new_secret()
    client.token_prefix, client.token_hash, client.revoked_at = prefix, _digest(secret), None
    client.save(update_fields=["token_prefix", "token_hash", "revoked_at"])
    _audit(client, "new token")
    return NewToken(client, secret)


@transaction.atomic
def client_revoke(client: ScimClient) -> None:
    """The client's token stops working (its users and groups stay as they are)."""
    client.revoked_at = timezone.now()
    client.save(update_fields=["revoked_at"])
    _audit(client, "revoked")


def client_authenticate(header: str, *, source_ip: str | None) -> ScimClient:
    """The live SCIM client an `Authorization: Bearer` header names; ClientRefused (counted) if none."""
    scheme, _, raw = (header or "").partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not TOKEN_SHAPE.match(raw):
        raise _refuse("no SCIM bearer token", source_ip=source_ip)
    client = ScimClient.objects.filter(token_hash=_digest(raw)).first()
    if client is None:
        raise _refuse("unknown SCIM token", source_ip=source_ip)
    if client.revoked_at is not None:
        raise _refuse("revoked SCIM token", source_ip=source_ip, client=client)
    return client


def _refuse(reason: str, *, source_ip: str | None, client: ScimClient | None = None) -> ClientRefused:
    counted = refusal_counted(
        AuditAction.SCIM_REFUSED,
        source=source_ip,
        kind=reason,
        payload={"reason": reason, "idp": client.name if client else ""},
    )
    retry = over_limit(counted)
    if retry is not None:
        return ClientRefused(f"Too many refused calls from your address; wait {retry} s.", retry_after=retry)
    return ClientRefused(reason)
