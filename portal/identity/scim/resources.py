"""The portal's records as SCIM resources (scim2-models), and lists of them: filtered, paged, in a ListResponse.

A SCIM User is an identity the client provisioned (its id is the identity's pk); a SCIM Group is a ScimGroup.
A filter is parsed and checked by scim2-models; a plain `eq` on userName, externalId, displayName or id is
narrowed in the database first (what IdPs send before every create), and every filter is then matched by
scim2-models itself, so the answer is RFC 7644's whatever the narrowing did.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from scim2_models import (
    Context,
    Email,
    Group,
    GroupMember,
    GroupMembership,
    ListResponse,
    Meta,
    Name,
    ScimFilter,
    User,
)
from scim2_models.path.expressions import Comparison

from ..models import Identity, ScimClient, ScimGroup

MAX_COUNT = 200
NARROWED = {  # attribute (lower case) -> lookup, for `eq`
    "users": {"username": "scim_user_name__iexact", "externalid": "scim_external_id", "id": "pk"},
    "groups": {"displayname": "display_name__iexact", "externalid": "external_id", "id": "pk"},
}


class BadQuery(ValueError):
    """A query parameter out of range (the filter's own errors are scim2-models' InvalidFilterException)."""


def identities_of(client: ScimClient) -> QuerySet[Identity]:
    return Identity.objects.filter(scim_client=client).select_related("user").prefetch_related("scim_groups")


def groups_of(client: ScimClient) -> QuerySet[ScimGroup]:
    return ScimGroup.objects.filter(client=client).prefetch_related("members")


def user_resource(identity: Identity, base: str) -> User:
    user = identity.user
    name = None
    if user.first_name or user.last_name:
        name = Name(given_name=user.first_name or None, family_name=user.last_name or None)
    return User(
        id=str(identity.pk),
        external_id=identity.scim_external_id or None,
        user_name=identity.scim_user_name or user.get_username(),
        name=name,
        display_name=user.get_full_name() or None,
        emails=[Email(value=user.email, primary=True)] if user.email else None,
        active=user.is_active,
        groups=[GroupMembership(value=str(g.pk), display=g.display_name) for g in identity.scim_groups.all()] or None,
        meta=Meta(resource_type="User", location=f"{base}/Users/{identity.pk}", created=user.date_joined),
    )


def group_resource(group: ScimGroup, base: str, *, with_members: bool = True) -> Group:
    members = None
    if with_members:
        members = [
            GroupMember(value=str(m.pk), display=m.scim_user_name or None, type="User") for m in group.members.all()
        ] or None
    return Group(
        id=str(group.pk),
        external_id=group.external_id or None,
        display_name=group.display_name,
        members=members,
        meta=Meta(
            resource_type="Group",
            location=f"{base}/Groups/{group.pk}",
            created=group.created_at,
            last_modified=group.updated_at,
        ),
    )


def page_numbers(query) -> tuple[int, int]:
    """startIndex (1-based, default 1) and count (default and at most MAX_COUNT) from the query string."""
    try:
        start = int(query.get("startIndex") or 1)
        count = int(query.get("count") or MAX_COUNT)
    except ValueError:
        raise BadQuery("startIndex and count must be whole numbers") from None
    if start < 1 or count < 0 or start > 10**9:
        raise BadQuery("startIndex must be 1 or more, and count 0 or more")
    return start, min(count, MAX_COUNT)


def _narrowed(rows: QuerySet, kind: str, expression: ScimFilter) -> QuerySet:
    node = expression.ast
    if isinstance(node, Comparison) and node.op.value == "eq" and node.attr_path.sub_attr is None:
        lookup = NARROWED[kind].get(node.attr_path.attr.lower())
        if lookup is not None:
            value = str(node.value)
            if lookup == "pk" and not value.isdigit():
                return rows.none()
            return rows.filter(**{lookup: value})
    return rows


def listed(kind: str, rows: QuerySet, query, *, base: str, to_resource) -> dict[str, Any]:
    """A ListResponse of the rows' resources that match the query's filter, paged by startIndex and count."""
    model = User if kind == "users" else Group
    start, count = page_numbers(query)
    text = query.get("filter")
    expression = ScimFilter[model](text) if text else None  # type: ignore[valid-type]
    if expression is not None:
        rows = _narrowed(rows, kind, expression)
    resources = [to_resource(row, base) for row in rows.order_by("pk")]
    if expression is not None:
        resources = [r for r in resources if expression.match(r)]
    page = resources[start - 1 : start - 1 + count]
    answer = ListResponse[model](  # type: ignore[valid-type]
        total_results=len(resources), start_index=start, items_per_page=len(page), resources=page
    )
    return answer.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
