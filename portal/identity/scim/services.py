"""What an IdP's SCIM calls change: users (create, replace, patch, deprovision) and groups (the same), each change
one audit event naming the IdP. Group membership drives the same mappings as a sign-in: a member gets exactly
what their SCIM groups' mappings grant, and someone left with no mapped group loses their grants, tokens and
sessions at once. Deactivating (active false) or deprovisioning ends every session and token at once too."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from scim2_models import Group, PatchOp, User

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event

from ..models import Identity, ScimClient, ScimGroup
from ..revocation import access_revoke, grants_clear, holds_access
from ..services import grants_apply, mappings_for, new_user
from .resources import group_resource, identities_of, user_resource


class Conflict(Exception):
    """Another resource of this client holds that userName or displayName (SCIM 409 uniqueness)."""


class Invalid(ValueError):
    """A value the portal cannot take (SCIM 400 invalidValue)."""


def _audit(action: AuditAction, client: ScimClient, target: str, **payload) -> None:
    record_event(
        action=action,
        outcome=Outcome.SUCCESS,
        payload={"idp": client.name, "issuer": client.issuer, **payload},
        target=target[:128],
    )


def _user_state(identity: Identity) -> dict[str, Any]:
    user = identity.user
    return {
        "userName": identity.scim_user_name,
        "externalId": identity.scim_external_id,
        "active": user.is_active,
        "email": user.email,
        "name": user.get_full_name(),
        "user": user.get_username(),
    }


def _write_user(identity: Identity, resource: User, *, creating: bool = False) -> None:
    user_name = (resource.user_name or "").strip()
    if not user_name or len(user_name) > 255:
        raise Invalid("userName is required, at most 255 characters")
    rival = identities_of(identity.scim_client).filter(scim_user_name__iexact=user_name).exclude(pk=identity.pk)
    if rival.exists():
        raise Conflict(f"another user of this IdP has the userName {user_name!r}")
    identity.scim_user_name = user_name
    identity.scim_external_id = (resource.external_id or "")[:255]
    identity.save()
    user = identity.user
    name = resource.name
    user.first_name = ((name.given_name if name else None) or "")[:150]
    user.last_name = ((name.family_name if name else None) or "")[:150]
    emails = resource.emails or []
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    user.email = str(primary.value)[:254] if primary is not None and primary.value else ""
    if resource.active is not None or creating:
        user.is_active = resource.active is not False
    user.save()  # a deactivation ends sessions and tokens here (identity.receivers)


@transaction.atomic
def user_create(client: ScimClient, resource: User) -> Identity:
    """Provision a user; an identity of the same IdP subject that signed in before is adopted, not duplicated."""
    user_name = (resource.user_name or "").strip()
    subject = (resource.external_id or user_name)[:255]
    if not subject:
        raise Invalid("userName is required")
    identity = Identity.objects.select_related("user").filter(issuer=client.issuer, subject=subject).first()
    if identity is not None and identity.scim_client_id is not None:
        raise Conflict(f"the user {subject!r} is provisioned already")
    if identity is None:
        identity = Identity(issuer=client.issuer, subject=subject)
        identity.user = new_user({"preferred_username": user_name}, subject)
    identity.scim_client = client
    _write_user(identity, resource, creating=True)
    _audit(
        AuditAction.SCIM_USER_CREATED, client, identity.user.get_username(), id=identity.pk, after=_user_state(identity)
    )
    return identity


@transaction.atomic
def user_replace(client: ScimClient, identity: Identity, resource: User) -> Identity:
    before = _user_state(identity)
    _write_user(identity, resource)
    _changed_user(client, identity, before)
    return identity


@transaction.atomic
def user_patch(client: ScimClient, identity: Identity, patch: PatchOp, *, base: str) -> Identity:
    before = _user_state(identity)
    resource = user_resource(identity, base)
    if patch.patch(resource):
        _write_user(identity, resource)
        _changed_user(client, identity, before)
    return identity


def _changed_user(client: ScimClient, identity: Identity, before: dict) -> None:
    after = _user_state(identity)
    if after != before:
        changed = sorted(k for k in after if after[k] != before[k])
        _audit(
            AuditAction.SCIM_USER_CHANGED,
            client,
            identity.user.get_username(),
            id=identity.pk,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )


@transaction.atomic
def user_delete(client: ScimClient, identity: Identity) -> None:
    """Deprovision: the account is deactivated (sessions and tokens end), loses its grants and its link to the
    IdP; it stays, deactivated, for the requests and events that name it."""
    user = identity.user
    before = _user_state(identity)
    user.is_active = False
    user.save()
    removed = grants_clear(user)
    identity.scim_groups.clear()
    identity.delete()
    _audit(AuditAction.SCIM_USER_DELETED, client, user.get_username(), before=before, grants_removed=removed)


# --- groups ---------------------------------------------------------------------------------------------------


def _members(client: ScimClient, resource: Group) -> list[Identity]:
    wanted = {str(m.value) for m in resource.members or [] if m.value}
    found = list(identities_of(client).filter(pk__in=[v for v in wanted if v.isdigit()]))
    if len(found) != len(wanted):
        missing = sorted(wanted - {str(i.pk) for i in found})
        raise Invalid(f"no user of this IdP has the id {', '.join(missing)}")
    return found


def _write_group(client: ScimClient, group: ScimGroup, resource: Group) -> dict[str, Any]:
    """Save the group's name and members; re-derive the grants of everyone whose groups changed."""
    name = (resource.display_name or "").strip()
    if not name or len(name) > 255:
        raise Invalid("displayName is required, at most 255 characters")
    if ScimGroup.objects.filter(client=client, display_name__iexact=name).exclude(pk=group.pk).exists():
        raise Conflict(f"another group of this IdP is named {name!r}")
    renamed = group.pk is not None and group.display_name != name
    old = set(group.members.all()) if group.pk is not None else set()
    group.display_name, group.external_id = name, (resource.external_id or "")[:255]
    group.updated_at = timezone.now()
    group.created_at = group.created_at or group.updated_at
    group.save()
    new = set(_members(client, resource))
    group.members.set(new)
    touched = (old | new) if renamed else (old ^ new)
    return _regrant(client, sorted(touched, key=lambda i: i.pk))


def _regrant(client: ScimClient, identities) -> dict[str, Any]:
    """Each identity's grants become what its SCIM groups map to; none mapped: its access is revoked."""
    changes: dict[str, Any] = {}
    for identity in identities:
        user = identity.user
        groups = sorted(identity.scim_groups.values_list("display_name", flat=True))
        identity.last_groups = groups
        identity.save(update_fields=["last_groups"])
        mappings = mappings_for(groups)
        if mappings:
            before, after = grants_apply(user, mappings)
            if before != after:
                changes[user.get_username()] = {"before": before, "after": after}
        elif holds_access(user):
            access_revoke(user=user, reason="no mapped IdP group", idp=client.name, issuer=client.issuer)
            changes[user.get_username()] = {"revoked": True}
    return changes


def _group_state(group: ScimGroup) -> dict[str, Any]:
    return {
        "displayName": group.display_name,
        "members": sorted(m.scim_user_name or str(m.pk) for m in group.members.all()),
    }


@transaction.atomic
def group_create(client: ScimClient, resource: Group) -> ScimGroup:
    group = ScimGroup(client=client)
    grants = _write_group(client, group, resource)
    after = _group_state(group)
    _audit(AuditAction.SCIM_GROUP_CREATED, client, group.display_name, id=group.pk, after=after, grants=grants)
    return group


@transaction.atomic
def group_replace(client: ScimClient, group: ScimGroup, resource: Group) -> ScimGroup:
    before = _group_state(group)
    grants = _write_group(client, group, resource)
    _changed_group(client, group, before, grants)
    return group


@transaction.atomic
def group_patch(client: ScimClient, group: ScimGroup, patch: PatchOp, *, base: str) -> ScimGroup:
    before = _group_state(group)
    resource = group_resource(group, base)
    if patch.patch(resource):
        grants = _write_group(client, group, resource)
        _changed_group(client, group, before, grants)
    return group


def _changed_group(client: ScimClient, group: ScimGroup, before: dict, grants: dict) -> None:
    after = _group_state(group)
    if after != before or grants:
        target = group.display_name
        _audit(AuditAction.SCIM_GROUP_CHANGED, client, target, id=group.pk, before=before, after=after, grants=grants)


@transaction.atomic
def group_delete(client: ScimClient, group: ScimGroup) -> None:
    before = _group_state(group)
    members = list(group.members.all())
    group.members.clear()
    pk = group.pk
    group.delete()
    grants = _regrant(client, members)
    _audit(AuditAction.SCIM_GROUP_DELETED, client, before["displayName"], id=pk, before=before, grants=grants)
