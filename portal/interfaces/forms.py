"""The attach form: syntax and range checks here, live checks in the service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.scp import schemas

from .errors import AttachRejected
from .models import Mode
from .operations.attach import AttachParameters
from .rules import justification_problem

MAX_FIXED_IPS = schemas.MAX_FIXED_IPS
# Said above the rows when a fixed IP is wrong (the API leaves it out: its errors name each row).
FIXED_IPS_MARKED = _("Correct the fixed IPs marked below.")


def justification_field(*, help_text, required) -> forms.CharField:
    """The requester's reason, plain text up to 1,000 characters, in the words of what they ask for."""
    return forms.CharField(
        label=_("Justification"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=help_text,
        error_messages={
            "required": required,
            "max_length": _("Keep the justification to 1,000 characters (it has %(show_value)d)."),
        },
    )


class AttachForm(forms.Form):
    mode = forms.ChoiceField(
        choices=Mode.choices,
        widget=forms.RadioSelect,
        label=_("How to attach"),
        error_messages={"required": _("Choose how to attach: a new port on a subnet, or an existing port.")},
    )
    # Plain strings: whether the subnet or port fits this server is SCP's to say, checked by the service.
    subnet_id = forms.CharField(
        label=_("Subnet (in the server's VPC)"),
        required=False,
        max_length=64,
        widget=forms.Select,
        error_messages={"max_length": _("That is not a subnet id.")},
    )
    port_id = forms.CharField(
        label=_("Unattached port (in the server's VPC)"),
        required=False,
        max_length=64,
        widget=forms.Select,
        error_messages={"max_length": _("That is not a port id.")},
    )
    justification = justification_field(
        help_text=_("Why this interface is needed. Plain text, up to 1,000 characters."),
        required=_("Say why this interface is needed."),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, error_messages={"invalid": _("Reload the form.")})

    # The template renders these fields' labels, widgets, help and errors; it writes none of them itself.
    section_legends = dict(Mode.choices)

    def __init__(self, *args, subnets: Sequence[schemas.Subnet] = (), ports: Sequence[schemas.Port] = (), **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.set_options(subnets=subnets, ports=ports)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4())
            self.initial.setdefault("mode", Mode.SUBNET)
        raw = self.data.getlist("fixed_ip") if self.is_bound and hasattr(self.data, "getlist") else []
        self.fixed_ip_rows: list[str] = [str(v)[:100] for v in raw]
        self.fixed_ip_errors: dict[int, str] = {}
        self.focus_row: int | None = None
        self.fixed_ip_checks: dict[int, tuple[str, bool]] = {}  # row -> (message, ok), when drawn again

    def set_options(self, *, subnets, ports) -> None:
        """What the selects offer: the server's VPC's subnets and unattached ports (needed only to show the form)."""
        self.subnet_choices = [("", _("Choose a subnet…"))] + [(s.id, _subnet_label(s)) for s in subnets]
        self.port_choices = [("", _("Choose a port…"))] + [
            (p.id, f"{p.name or p.id} ({p.fixed_ip_address or _('no address')})") for p in ports
        ]
        self.fields["subnet_id"].widget.choices = self.subnet_choices
        self.fields["port_id"].widget.choices = self.port_choices

    def add_row(self) -> None:
        if len(self.fixed_ip_rows) < MAX_FIXED_IPS:
            self.fixed_ip_rows.append("")
            self.focus_row = len(self.fixed_ip_rows) - 1  # the new row takes the focus (keyboard users type on)

    def remove_row(self, index: int) -> None:
        if 0 <= index < len(self.fixed_ip_rows):
            del self.fixed_ip_rows[index]

    def clean_justification(self):
        text = self.cleaned_data["justification"].strip()
        problem = justification_problem(text)
        if problem:
            raise forms.ValidationError(problem)
        return text

    def clean(self):
        data = super().clean() or {}
        mode = data.get("mode")
        if mode not in Mode.values:
            return data  # the field's own error says what to do
        # The chosen mode's id as cleaned; the other one as posted, since giving both is the mistake to name.
        chosen, other = ("subnet_id", "port_id") if mode == Mode.SUBNET else ("port_id", "subnet_id")
        ids = {chosen: data.get(chosen) or "", other: str(self.data.get(other) or "")}
        try:
            self.parameters = AttachParameters.parse(server_id="", mode=mode, fixed_ips=self.fixed_ip_rows, **ids)
        except AttachRejected as exc:
            self._show(exc.errors)
        else:
            data["fixed_ips"] = list(self.parameters.fixed_ips)
        return data

    def _show(self, errors: dict[str, list[str]]) -> None:
        for key, messages in errors.items():
            if key.startswith("fixed_ip_"):
                self.fixed_ip_errors[int(key.rsplit("_", 1)[1])] = " ".join(messages)
            elif key not in self.errors:  # (a field's own check has spoken already)
                for message in messages:
                    self.add_error(None if key == "__all__" else key, message)
        if self.fixed_ip_errors:
            self.add_error(None, FIXED_IPS_MARKED)

    def attach_params(self) -> dict:
        """The validated choice as the service's parameters: only what belongs to the chosen mode."""
        return self.parameters.as_params()

    def rejection_detail(self) -> tuple[dict[str, list[str]], dict]:
        """(errors, what was submitted) for the audit log, bounded in size."""
        errors = {key: [str(m) for m in messages] for key, messages in self.errors.items()}
        errors.update({f"fixed_ip_{i}": [m] for i, m in self.fixed_ip_errors.items()})
        submitted: dict[str, str | list[str]] = {
            k: str(self.data.get(k, ""))[:200] for k in ("mode", "subnet_id", "port_id")
        }
        submitted["fixed_ips"] = [row[:100] for row in self.fixed_ip_rows][:32]
        return errors, submitted

    def apply_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Show the service's live-check reasons next to the field they concern."""
        for key, messages in errors.items():
            if key.startswith("fixed_ip_"):
                index = int(key.rsplit("_", 1)[1])
                # Service indices count non-empty rows; map them back onto the rows as shown.
                filled = [i for i, row in enumerate(self.fixed_ip_rows) if row.strip()]
                row = filled[index] if index < len(filled) else index
                self.fixed_ip_errors[row] = " ".join(messages)
                if str(FIXED_IPS_MARKED) not in self.non_field_errors():
                    self.add_error(None, FIXED_IPS_MARKED)
            elif key in self.fields:
                for message in messages:
                    self.add_error(key, message)
            else:
                for message in messages:
                    self.add_error(None, message)


class DetachForm(forms.Form):
    """A detach: which interface is in the URL; the requester gives the reason. The same justification rules, in
    words for detaching."""

    justification = justification_field(
        help_text=_("Why this interface should be detached. Plain text, up to 1,000 characters."),
        required=_("Say why this interface should be detached."),
    )
    idempotency_key = AttachForm.base_fields["idempotency_key"]
    clean_justification = AttachForm.clean_justification

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4())


def _subnet_label(subnet) -> str:
    if subnet.gateway_ip_address:
        return _("%(name)s (%(cidr)s, gateway %(gateway)s)") % {
            "name": subnet.name,
            "cidr": subnet.cidr,
            "gateway": subnet.gateway_ip_address,
        }
    return _("%(name)s (%(cidr)s, no gateway)") % {"name": subnet.name, "cidr": subnet.cidr}
