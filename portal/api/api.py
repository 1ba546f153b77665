"""The JSON API at /api/v1/: the pages' services, access rules and audit events, for scripts and pipelines."""

from __future__ import annotations

from ninja import NinjaAPI

from . import approvals, attach, audit, problems, servers
from .auth import BearerToken, BrowserSession, caller_scopes
from .schemas import Me, Problem

ERRORS = {
    "400": "The body is not valid JSON.",
    "401": "No credentials, or a token that is unknown, expired or revoked.",
    "403": "Not allowed: the token lacks the scope, the roles do not allow it, or the rules refuse it (the reason).",
    "404": "Not found, or not yours to see.",
    "422": "The input is not valid; `errors` names each field.",
    "429": "The token's rate limit; wait Retry-After seconds.",
    "503": "SCP is not answering; nothing was done. Retry after Retry-After seconds.",
}
PROBLEM = "application/problem+json"


class PortalApi(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """Every operation documents the problem answers it can give, as application/problem+json."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        ref = {"$ref": "#/components/schemas/Problem"}
        schema.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schema["components"]["schemas"]:
            schema["components"]["schemas"].update(
                Problem.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {})
            )
            schema["components"]["schemas"]["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            schema["components"]["schemas"]["Problem"].pop("$defs", None)
        _link_request_ids(schema)
        for methods in schema["paths"].values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERRORS.items():
                    responses.setdefault(status, {"description": description})
                for status, answer in responses.items():
                    if int(status) >= 400:
                        answer["content"] = {PROBLEM: {"schema": ref}}
        return schema


def _link_request_ids(schema) -> None:
    """OpenAPI links: a submitted request's id leads to reading, cancelling and deciding it."""
    paths = schema["paths"]

    def operation(suffix: str, method: str) -> dict | None:
        return next((ops.get(method) for path, ops in paths.items() if path.endswith(suffix)), None)

    submit = operation("/servers/{server_id}/attach-requests", "post")
    if submit is None:
        return
    targets = {
        "GetRequest": operation("/attach-requests/{request_id}", "get"),
        "CancelRequest": operation("/attach-requests/{request_id}/cancel", "post"),
        "DecideRequest": operation("/approvals/{request_id}/decision", "post"),
    }
    links = {
        name: {"operationId": target["operationId"], "parameters": {"request_id": "$response.body#/id"}}
        for name, target in targets.items()
        if target
    }
    for status in ("200", "201"):
        if status in submit.get("responses", {}):
            submit["responses"][status]["links"] = links


api = PortalApi(
    title="SCP interface portal API",
    version="1",
    description=(
        "Attach network interfaces to Samsung Cloud Platform servers through the portal's approvals, scoping and "
        "audit log. Authenticate with a personal access token (`Authorization: Bearer scpp_…`, created on your "
        "profile page) or a signed-in browser session (unsafe methods need the `X-CSRFToken` header). Errors are "
        "`application/problem+json` (RFC 9457)."
    ),
    urls_namespace="api",
    auth=[BearerToken(), BrowserSession(csrf=True)],
)
problems.install(api)


@api.get("/me", response=Me, summary="Who am I", tags=["identity"])
def me(request):
    """The caller and what this call may do."""
    token = getattr(request, "api_token", None)
    return {
        "username": request.user.get_username(),
        "scopes": caller_scopes(request),
        "token": token.prefix if token else None,
        "token_expires_at": token.expires_at if token else None,
    }


for module in (servers, attach, approvals, audit):
    api.add_router("", module.router)
