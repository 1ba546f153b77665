"""A live check carried to the next step: a preview's to its Confirm, a submission's to its worker.

Asking SCP costs a round of calls (about one call's latency: they run side by side), and a request checked
twice within a second learns nothing the second time that SCP would not tell itself when it takes the write. So
one check stands for SCP_CHECK_FRESH_SECONDS:

- A preview seals its plan (what SCP said) into a signed token that its Confirm form carries, bound to the user,
  the operation and the parameters. Confirm within the window submits on it: everything the portal decides
  itself (the API version, ownership, team, policy, fixed-IP holds) is decided again at Confirm; only SCP is not
  asked again. A token that is stale, forged or for other parameters is ignored: SCP is asked.
- The request keeps the check it was accepted on (`checked_at`, `check_facts`). The worker sends on it while it
  is fresh and no other write on the server began or was open since; otherwise it asks SCP again. The
  write-ahead event says which check the write went out on.

What a check cannot see is a change made outside the portal after it. SCP refuses a write such a change made
impossible (a stopped or locked server, a subnet gone, an address taken: the request fails with SCP's reason,
nothing attached); and an interface someone else added meanwhile on the same subnet leaves a lost answer
undecided (an operator tells), never attributed to the wrong request. The live re-check has the same window,
only shorter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import models

from ..models import InterfaceRequest, Status
from ..operations.base import Operation
from .common import _now

SALT = "portal.interfaces.check"
# Where the check a request was accepted on (or its write went out on) was made.
BY_PREVIEW, BY_SUBMISSION, BY_EXECUTION = "preview", "submission", "execution"


def _parameters_digest(operation: Operation, params: dict[str, Any]) -> str:
    given = {key: value for key, value in params.items() if value not in ("", None, [], ())}  # (absent or empty)
    data = json.dumps({"operation": operation.name, "params": given}, sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def fresh(at: dt.datetime | None, *, now: dt.datetime | None = None) -> bool:
    """Whether a check made at `at` still stands."""
    window = settings.CONFIG.scp_check_fresh_seconds
    if at is None or not window:
        return False
    age = ((now or _now()) - at).total_seconds()
    return 0 <= age <= window


def check_seal(*, user, operation: Operation, params: dict[str, Any], plan, at: dt.datetime) -> str:
    """The token a preview's Confirm form carries: this plan, checked at `at`, for this user and these
    parameters ("" for an operation whose plans are not carried on)."""
    if operation.plan_class is None:
        return ""
    data = {
        "user": user.pk,
        "digest": _parameters_digest(operation, params),
        "at": at.isoformat(),
        "plan": plan.facts(),
    }
    return signing.dumps(data, salt=SALT, compress=True)


def check_open(token: str, *, user, operation: Operation, params: dict[str, Any]) -> tuple[Any, dt.datetime] | None:
    """The plan and its time from a preview's token, when it is this user's, for these parameters, and fresh;
    else None (the caller asks SCP)."""
    window = settings.CONFIG.scp_check_fresh_seconds
    if not token or not window or operation.plan_class is None or len(token) > 200_000:
        return None
    try:
        data = signing.loads(token, salt=SALT, max_age=dt.timedelta(seconds=window))
        at = dt.datetime.fromisoformat(data["at"])
        if data["user"] != user.pk or data["digest"] != _parameters_digest(operation, params) or not fresh(at):
            return None
        return operation.plan_class.from_facts(data["plan"]), at
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def check_fields(operation: Operation, plan, *, at: dt.datetime, by: str) -> dict[str, Any]:
    """The request's columns that keep the check it is accepted on."""
    facts = plan.facts() if operation.plan_class is not None else None
    return {"checked_at": at, "check_facts": {"by": by, "plan": facts}}


def check_record(at: dt.datetime, by: str) -> dict[str, str]:
    """The check as its audit events name it."""
    return {"by": by, "at": at.isoformat()}


def _writes_since(request: InterfaceRequest, at: dt.datetime) -> models.QuerySet[InterfaceRequest]:
    """The server's other writes that began, or were still open, after `at`: they may have changed what a check
    at `at` saw."""
    open_ = models.Q(status__in=(Status.EXECUTING, Status.UNKNOWN))
    since = models.Q(claimed_at__gte=at) | models.Q(answered_at__gte=at)
    return InterfaceRequest.objects.filter(open_ | since, server_id=request.server_id).exclude(pk=request.pk)


def standing_plan(request: InterfaceRequest, *, now: dt.datetime | None = None):
    """The plan of the check the request was accepted on, if the worker may send on it; else None."""
    facts, plan_class = request.check_facts, request.operation.plan_class
    if plan_class is None or not isinstance(facts, dict) or not fresh(request.checked_at, now=now):
        return None
    if _writes_since(request, request.checked_at).exists():  # type: ignore[arg-type]
        return None
    try:
        return plan_class.from_facts(facts.get("plan"))
    except (TypeError, ValueError):
        return None
