"""What the audit log shows without a sign-in: its latest signed checkpoint (only a size and a root) and the
consistency proofs between its checkpoints, for witnesses and anyone who keeps a checkpoint."""

from __future__ import annotations

import base64

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from . import checkpoints, proofs


def _text(body: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def checkpoint(request):
    """The latest signed checkpoint (c2sp.org/tlog-checkpoint), as plain text, with the cosignatures of the
    witnesses that cosigned it so far."""
    latest = checkpoints.latest()
    if latest is None:
        return _text("No checkpoint has been signed yet.\n", status=404)
    return _text(latest.note + "".join(c.line for c in latest.cosignatures.order_by("witness")))


@require_GET
def consistency(request):
    """The consistency proof between two signed checkpoints: one base64 hash a line, from ?old=SIZE&new=SIZE."""
    old, new = request.GET.get("old", ""), request.GET.get("new", "")
    if not (old.isdigit() and new.isdigit() and len(old) < 19 and len(new) < 19):
        return _text("Give old= and new=, the sizes of two signed checkpoints.\n", status=400)
    try:
        proof = proofs.consistency_between(int(old), int(new))
    except proofs.ProofUnavailable as exc:
        return _text(f"{exc}\n", status=404)
    return _text("".join(base64.b64encode(h).decode() + "\n" for h in proof))
