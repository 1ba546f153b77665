"""SCIM 2.0 over HTTP (RFC 7644): /scim/v2/Users, /scim/v2/Groups and the discovery endpoints, for IdPs that
provision (Okta, Entra ID, Keycloak). Each call carries its IdP's bearer token; payloads are validated by
scim2-models in the context RFC 7643 gives them; every answer, errors included, is application/scim+json."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Error,
    ETag,
    Filter,
    Group,
    ListResponse,
    Patch,
    PatchOp,
    ResourceType,
    SCIMException,
    ServiceProviderConfig,
    Sort,
    User,
)

from portal.core.middleware import client_ip

from ..models import ScimClient
from . import services
from .clients import ClientRefused, client_authenticate
from .resources import MAX_COUNT, BadQuery, group_resource, groups_of, identities_of, listed, user_resource

SCIM_JSON = "application/scim+json"


def _answer(data: dict | None, status: int = 200, **headers: str) -> HttpResponse:
    body = json.dumps(data) if data is not None else ""
    response = HttpResponse(body, status=status, content_type=SCIM_JSON if data is not None else None)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _error(status: int, detail: str, scim_type: str | None = None, **headers: str) -> HttpResponse:
    error = Error(status=status, scim_type=scim_type, detail=detail[:500])
    return _answer(error.model_dump(), status, **headers)


def _validation_error(exc: ValidationError) -> HttpResponse:
    first = exc.errors()[0] if exc.errors() else {}
    kind = str(first.get("type", ""))
    scim_type = kind.removeprefix("scim_") if kind.startswith("scim_") else "invalidValue"
    where = ".".join(str(p) for p in first.get("loc", ()))
    return _error(
        400, f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid")), scim_type
    )


def scim_endpoint(view: Callable) -> Callable:
    """The IdP's token, then the view; every refusal a SCIM Error (never a page, never a 500 for bad input)."""

    @csrf_exempt
    @wraps(view)
    def endpoint(request, *args, **kwargs):
        try:
            client = client_authenticate(request.headers.get("Authorization", ""), source_ip=client_ip(request))
        except ClientRefused as exc:
            if exc.retry_after is not None:
                return _error(429, str(exc), Retry_After=str(exc.retry_after))
            return _error(401, "A valid SCIM bearer token is required.", WWW_Authenticate='Bearer realm="scim"')
        try:
            return view(request, client, *args, **kwargs)
        except SCIMException as exc:
            return _answer(exc.to_error().model_dump(), exc.status)
        except ValidationError as exc:
            return _validation_error(exc)
        except services.Conflict as exc:
            return _error(409, str(exc), "uniqueness")
        except (services.Invalid, BadQuery) as exc:
            return _error(400, str(exc), "invalidValue")

    return endpoint


def _payload(request) -> dict:
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise services.Invalid("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise services.Invalid("the body must be a JSON object")
    return payload


def _base(request) -> str:
    return request.build_absolute_uri("/scim/v2")


@dataclass(frozen=True)
class Kind:
    """One resource type's endpoints: its model, its rows, how a row reads, and the services that change it."""

    name: str  # "users" or "groups", as resources.listed knows them
    model: type
    rows: Callable  # client -> queryset
    resource: Callable  # (row, base, request) -> scim2 resource
    create: Callable
    replace: Callable
    patch: Callable
    delete: Callable


def _user_resource(identity, base, request=None):
    return user_resource(identity, base)


def _group_resource(group, base, request=None):
    excluded = request.GET.get("excludedAttributes", "") if request is not None else ""
    return group_resource(group, base, with_members="members" not in excluded.replace(" ", "").split(","))


USERS = Kind(
    name="users",
    model=User,
    rows=identities_of,
    resource=_user_resource,
    create=services.user_create,
    replace=services.user_replace,
    patch=services.user_patch,
    delete=services.user_delete,
)
GROUPS = Kind(
    name="groups",
    model=Group,
    rows=groups_of,
    resource=_group_resource,
    create=services.group_create,
    replace=services.group_replace,
    patch=services.group_patch,
    delete=services.group_delete,
)


def _collection(request, client: ScimClient, kind: Kind):
    base = _base(request)
    if request.method == "GET":

        def to_resource(row, base):
            return kind.resource(row, base, request)

        return _answer(listed(kind.name, kind.rows(client), request.GET, base=base, to_resource=to_resource))
    if request.method != "POST":
        return _error(405, "GET or POST.")
    resource = kind.model.model_validate(_payload(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    row = kind.create(client, resource)
    dumped = kind.resource(row, base).model_dump(scim_ctx=Context.RESOURCE_CREATION_RESPONSE)
    return _answer(dumped, 201, Location=dumped["meta"]["location"])


def _member(request, client: ScimClient, kind: Kind, pk: str):
    base = _base(request)
    row = kind.rows(client).filter(pk=pk).first() if pk.isdigit() else None
    if row is None:
        return _error(404, f"No {kind.name[:-1]} {pk!r} here.")
    if request.method == "GET":
        return _answer(kind.resource(row, base, request).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    if request.method == "PUT":
        resource = kind.model.model_validate(_payload(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
        kind.replace(client, row, resource)
    elif request.method == "PATCH":
        patch = PatchOp[kind.model].model_validate(_payload(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        kind.patch(client, row, patch, base=base)
    elif request.method == "DELETE":
        kind.delete(client, row)
        return _answer(None, 204)
    else:
        return _error(405, "GET, PUT, PATCH or DELETE.")
    row = kind.rows(client).get(pk=row.pk)
    return _answer(kind.resource(row, base).model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_RESPONSE))


@scim_endpoint
def users(request, client: ScimClient):
    return _collection(request, client, USERS)


@scim_endpoint
def user(request, client: ScimClient, pk: str):
    return _member(request, client, USERS, pk)


@scim_endpoint
def groups(request, client: ScimClient):
    return _collection(request, client, GROUPS)


@scim_endpoint
def group(request, client: ScimClient, pk: str):
    return _member(request, client, GROUPS, pk)


# --- discovery (RFC 7644 §4) ----------------------------------------------------------------------------------


@scim_endpoint
def service_provider_config(request, client: ScimClient):
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="The token `manage.py scim_client add` printed for this IdP.",
            )
        ],
    )
    return _answer(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
def resource_types(request, client: ScimClient):
    types = [ResourceType.from_resource(User), ResourceType.from_resource(Group)]
    answer = ListResponse[ResourceType](
        total_results=len(types), start_index=1, items_per_page=len(types), resources=types
    )
    return _answer(answer.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
