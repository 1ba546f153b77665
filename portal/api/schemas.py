"""What the API accepts and answers. Answers carry only typed fields: nothing from SCP passes through unchecked."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from portal.audit.models import Outcome
from portal.interfaces.models import Mode, Status

Text = Annotated[str, StringConstraints(max_length=100)]
Id = Annotated[str, StringConstraints(max_length=64)]
SERVER_STATES = Literal["ACTIVE", "SHUTOFF", "ERROR", "BUILD", "REBOOT", "DELETED"]


class Problem(Schema):
    """RFC 9457 problem details; `errors` lists each field's message when the input was refused."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class FieldError(Schema):
    field: str = Field(description="The input field (fixed_ips[1], justification, ...); empty for the whole input.")
    message: str


class Me(Schema):
    username: str
    scopes: list[str] = Field(description="What this call may do: the token's scopes within the user's roles.")
    token: str | None = Field(None, description="The token's public prefix, when the call came with one.")
    token_expires_at: dt.datetime | None = None


# --- servers -------------------------------------------------------------------------------------------------
class ServerOut(Schema):
    id: str
    name: str
    state: str
    vpc_id: str | None
    locked: bool
    created_at: str | None


class ServerPageOut(Schema):
    items: list[ServerOut]
    next_marker: str | None = Field(description="Pass as `marker` for the next page; null on the last one.")


class InterfaceOut(Schema):
    port_id: str
    port_state: str | None
    subnet_id: str | None
    mac_addr: str | None
    fixed_ips: list[str]
    is_default: bool | None


class ServerDetailOut(Schema):
    server: ServerOut
    interfaces: list[InterfaceOut]
    unavailable_reason: str | None = Field(description="Why no interface can be attached now; null when one can.")


class SubnetOut(Schema):
    id: str
    name: str
    cidr: str
    vpc_id: str
    state: str | None
    gateway_ip_address: str | None


class PortOut(Schema):
    id: str
    name: str
    subnet_id: str | None
    fixed_ip_address: str | None
    mac_address: str | None
    state: str | None


class IpCheckOut(Schema):
    address: str
    ok: bool = Field(description="True when the address is valid in the subnet and free.")
    message: str


# --- attach requests -----------------------------------------------------------------------------------------
CHECK_OUT = (
    "What SCP said at this preview, signed: submit it as `check` within SCP_CHECK_FRESH_SECONDS (30 s by default) "
    "and the submission stands on it instead of asking SCP again (the portal's own checks run again)."
)
CHECK_IN = (
    "A preview's `check`; optional. One that is stale, for other parameters or not this user's is ignored: SCP is "
    "asked."
)
Check = Annotated[str, StringConstraints(max_length=200000)]


class AttachIn(Schema):
    mode: Mode = Field(description="`subnet`: a new port on `subnet_id`; `port`: the existing `port_id`.")
    subnet_id: Id = ""
    port_id: Id = ""
    fixed_ips: list[Text] = Field([], max_length=16, description="Fixed IPs for the new port (subnet mode only).")
    justification: Annotated[str, StringConstraints(max_length=1000)] = Field(
        "", description="Why the interface is needed; plain text, up to 1,000 characters. Required to submit."
    )
    check: Check = Field("", description=CHECK_IN)


class CallOut(Schema):
    method: str
    path: str
    url: str
    api_version: str
    body: dict | None = Field(description="The POST's JSON body; null for a detach's DELETE.")


class PreviewOut(Schema):
    server: ServerOut
    call: CallOut = Field(description="Exactly what the portal will send to SCP.")
    check: str = Field(description=CHECK_OUT)


class StepOut(Schema):
    number: int
    rule: str
    state: str = Field(description="done, current, or empty for a step not reached.")
    decisions: list[DecisionOut]


class DecisionOut(Schema):
    user: str
    approve: bool
    comment: str
    decided_at: dt.datetime


class PollOut(Schema):
    final: bool = Field(description="True once the request will not change any more.")
    retry_after: int | None = Field(description="Seconds to wait before asking again (also sent as Retry-After).")
    waiting_for: str = Field(description="What the request is waiting for, in words.")


class DetachIn(Schema):
    port_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The interface (its port id) to detach; never the server's default interface."
    )
    justification: Annotated[str, StringConstraints(max_length=1000)] = Field(
        "", description="Why the interface should go; plain text, up to 1,000 characters. Required."
    )
    check: Check = Field("", description=CHECK_IN)


class DetachPreviewOut(Schema):
    server: ServerOut
    call: CallOut
    effect: str = Field(description="What SCP does with the port: deleted, or kept unattached for reuse.")
    check: str = Field(description=CHECK_OUT)


class RequestOut(Schema):
    id: int
    action: Literal["attach", "detach"]
    status: Status
    status_label: str
    status_reason: str
    requester: str
    team: str | None
    server_id: str
    server_name: str
    mode: Mode
    subnet_id: str
    subnet_name: str
    port_id: str
    port_name: str
    fixed_ips: list[str]
    justification: str
    policy: str
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime | None
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_comment: str
    call: CallOut
    parameters_digest: str = Field(description="What an approval binds to: a digest of the exact call.")
    steps: list[StepOut]
    result: InterfaceOut | None = Field(description="The interface SCP reported, once attached.")
    poll: PollOut
    page: str = Field(description="The request's page in the portal.")


class RequestPageOut(Schema):
    items: list[RequestOut]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null on the last one.")


class QueueItemOut(Schema):
    request: RequestOut
    age_seconds: int
    deciders: list[str]


class DecisionIn(Schema):
    decision: Literal["approve", "reject"]
    comment: Annotated[str, StringConstraints(max_length=1000)] = Field(
        "", description="Required to reject: the requester reads it."
    )
    parameters_digest: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="The request's parameters_digest as you reviewed it; a changed request is refused."
    )


# --- audit ---------------------------------------------------------------------------------------------------
class AuditEventOut(Schema):
    seq: int
    created_at: dt.datetime
    action: str
    outcome: Outcome
    actor_name: str
    source_ip: str | None
    correlation_id: str
    interface_request_id: int | None
    target: str
    payload: dict
    prev_hash: str
    hash: str


class AuditPageOut(Schema):
    items: list[AuditEventOut]
    next_before: int | None


class AnchorOut(Schema):
    seq: int = Field(description="The chain head's sequence number; 0 for an empty log.")
    hash: str = Field(description="Its hash. Keep both outside the portal; `audit_verify --anchor SEQ:HASH` checks it.")


class VerificationOut(Schema):
    ran_at: dt.datetime
    ok: bool
    events: int
    message: str


class VerificationStateOut(Schema):
    last: VerificationOut | None


class VerifyStartedOut(Schema):
    status: Literal["started"]
    detail: str


Problem.model_rebuild()
StepOut.model_rebuild()
