"""Audit events as OCSF 1.x JSON (ocsf.io, schema 1.3.0), for a SIEM.

Sign-ins and sessions are Authentication (3002); API tokens, passwords, SCIM and the admin's changes to users,
groups, teams, mappings and policies are Account Change (3001); everything else (requests, decisions, SCP calls,
the log itself) is API Activity (6003). `metadata.uid` is the event's chain hash and `metadata.sequence` its
sequence number: a receiver de-duplicates on either. The stored event is kept whole in `unmapped`, so nothing
the portal knows is lost on the way. Standard library only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

VERSION = "1.3.0"
PRODUCT = {"name": "SCP interface portal", "vendor_name": "SCP interface portal", "version": "1"}

API_ACTIVITY = (6003, "API Activity", 6, "Application Activity")
AUTHENTICATION = (3002, "Authentication", 3, "Identity & Access Management")
ACCOUNT_CHANGE = (3001, "Account Change", 3, "Identity & Access Management")

LOGON, LOGOFF = (1, "Logon"), (2, "Logoff")
AUTHENTICATION_ACTIVITIES = {
    "auth.login": LOGON,
    "auth.sso_login": LOGON,
    "auth.login_failed": LOGON,
    "auth.sso_refused": LOGON,
    "auth.locked_out": LOGON,
    "api_token.refused": LOGON,
    "auth.logout": LOGOFF,
    "auth.session_expired": LOGOFF,
    "auth.sso_session_ended": LOGOFF,
    "auth.signed_out_everywhere": LOGOFF,
    "auth.sso_rechecked": (99, "Other"),
}
ACCOUNT_ACTIVITIES = {
    "scim.user_created": (1, "Create"),
    "admin.user.added": (1, "Create"),
    "auth.password_changed": (3, "Password Change"),
    "admin.user.password_changed": (3, "Password Change"),
    "auth.password_reset_requested": (4, "Password Reset"),
    "scim.user_deleted": (6, "Delete"),
    "admin.user.deleted": (6, "Delete"),
    "auth.access_revoked": (8, "Detach Policy"),
    "auth.unlocked": (12, "Unlock"),
}
ACCOUNT_PREFIXES = ("api_token.created", "api_token.revoked", "scim.", "admin.", "account.", "auth.password")
HTTP_ACTIVITIES = {"GET": (2, "Read"), "POST": (1, "Create"), "PUT": (3, "Update"), "PATCH": (3, "Update")}
STATUS = {"success": (1, "Success", 1), "failure": (2, "Failure", 3), "denied": (2, "Failure", 3)}


def _class_of(action: str) -> tuple[tuple[int, str, int, str], tuple[int, str]]:
    if action in AUTHENTICATION_ACTIVITIES:
        return AUTHENTICATION, AUTHENTICATION_ACTIVITIES[action]
    if action in ACCOUNT_ACTIVITIES:
        return ACCOUNT_CHANGE, ACCOUNT_ACTIVITIES[action]
    if action.startswith(ACCOUNT_PREFIXES):
        return ACCOUNT_CHANGE, (99, "Other")
    return API_ACTIVITY, (99, "Other")


def _api_activity(action: str, payload: dict) -> tuple[int, str]:
    method = str(payload.get("method", "")).upper()
    if method == "DELETE" or action.endswith((".deleted", ".detach.intent")):
        return 4, "Delete"
    if method in HTTP_ACTIVITIES:
        return HTTP_ACTIVITIES[method]
    if action.endswith((".submitted", ".added", ".created", ".attach.intent")):
        return 1, "Create"
    return 3, "Update"


def _millis(value: Any) -> int:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(value.timestamp() * 1000)


def ocsf_event(event: dict, *, log_name: str) -> dict:
    """One stored audit event (its hashed fields and its hash) as an OCSF event."""
    action, payload = str(event["action"]), event.get("payload") or {}
    (class_uid, class_name, category_uid, category_name), activity = _class_of(action)
    if class_uid == API_ACTIVITY[0]:
        activity = _api_activity(action, payload if isinstance(payload, dict) else {})
    status_id, status, severity_id = STATUS.get(str(event["outcome"]), (99, "Other", 1))
    user = {"name": event["actor_name"] or None, "uid": str(event["actor_id"]) if event["actor_id"] else None}
    user = {k: v for k, v in user.items() if v} or {"name": "anonymous"}
    created = event["created_at"]
    out: dict[str, Any] = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity[0],
        "activity_name": activity[1],
        "type_uid": class_uid * 100 + activity[0],
        "severity_id": severity_id,
        "status_id": status_id,
        "status": status,
        "status_detail": event["outcome"],
        "time": _millis(created),
        "message": action,
        "metadata": {
            "version": VERSION,
            "product": PRODUCT,
            "uid": event["hash"],
            "sequence": event["seq"],
            "correlation_uid": event["correlation_id"] or None,
            "log_name": log_name,
            "event_code": action,
        },
        "actor": {"user": user},
        "unmapped": {
            "target": event["target"],
            "interface_request_id": event["interface_request_id"],
            "payload": payload,
            "prev_hash": event["prev_hash"],
            "created_at": created if isinstance(created, str) else created.isoformat(),
        },
    }
    if class_uid == API_ACTIVITY[0]:
        out["api"] = {"operation": action, "service": {"name": "scp-portal"}}
        if event["target"]:
            out["resources"] = [{"uid": event["target"]}]
    else:
        out["user"] = {"name": event["target"]} if event["target"] and class_uid == ACCOUNT_CHANGE[0] else user
    if event["source_ip"]:
        out["src_endpoint"] = {"ip": event["source_ip"]}
    if event["user_agent"]:
        out["http_request"] = {"user_agent": event["user_agent"]}
    return out
