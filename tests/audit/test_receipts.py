"""A receipt per request (c2sp.org/tlog-proof): its audit events proven in a signed, witnessed checkpoint, offered on
the request page and by the API, and checked offline by `python -m portal.audit.receipt verify`."""

import base64
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from portal.api.tokens import token_create
from portal.audit import note, receipt
from portal.audit.models import AuditEvent, Effect
from portal.audit.outbox import effect_deliver
from portal.interfaces import services

from .test_checkpoints import sign_now
from .test_witness import WitnessProcess

ROOT = Path(__file__).resolve().parents[2]


def log_vkey() -> str:
    out = io.StringIO()
    call_command("audit_checkpoint", "--verifier-key", stdout=out)
    return out.getvalue().strip()


def verify_cli(path: Path, *keys: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "portal.audit.receipt", "verify", str(path), *keys],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def with_event_changed(text: str, change) -> str:
    """The receipt with the first proof's event changed by `change` (a function of its canonical bytes)."""
    lines = text.split("\n")
    event = base64.b64decode(lines[1][len("extra ") :])
    lines[1] = "extra " + base64.b64encode(change(event)).decode()
    return "\n".join(lines)


def test_a_receipt_verifies_offline_and_fails_after_one_byte_of_its_event_changes(
    pending, requester, signing_key, tmp_path
):
    made = pending()
    services.interface_request_cancel(request=made, user=requester)
    assert sign_now()[0] == 0
    client = Client()
    client.force_login(requester)
    answer = client.get(f"/requests/{made.pk}/receipt/")
    assert answer.status_code == 200 and answer["Content-Disposition"].endswith('.tlog-proof"')
    text = answer.content.decode()
    events = list(AuditEvent.objects.filter(interface_request_id=made.pk).order_by("seq"))
    assert text.count(receipt.HEADER + "\n") == len(events) >= 2
    proven = receipt.verify(text, note.Verifier.from_vkey(log_vkey()), [])
    assert [p.event["seq"] for p in proven] == [e.seq for e in events]
    assert proven[0].event["action"] == events[0].action
    issued = AuditEvent.objects.get(action="audit.receipt_issued")
    assert issued.actor_name == requester.username and issued.payload["events"] == len(events)
    assert issued.interface_request_id is None  # it does not join the request's own timeline

    good = tmp_path / "good.tlog-proof"
    good.write_text(text)
    checked = verify_cli(good, "--key", log_vkey())
    assert checked.returncode == 0, checked.stderr
    assert f"{len(events)} event(s) proven in checkpoint" in checked.stdout and events[0].action in checked.stdout

    def one_byte(event: bytes) -> bytes:  # "requester" → "requestes": same length, still JSON, one byte changed
        at = event.index(requester.username.encode()) + len(requester.username) - 1
        return event[:at] + b"s" + event[at + 1 :]

    changed = tmp_path / "changed.tlog-proof"
    changed.write_text(with_event_changed(text, one_byte))
    refused = verify_cli(changed, "--key", log_vkey())
    assert refused.returncode == 1 and "is not in checkpoint" in refused.stderr
    recanonical = with_event_changed(text, lambda e: json.dumps(json.loads(e), indent=1).encode())
    with pytest.raises(receipt.ReceiptError, match="canonical form"):
        receipt.verify(recanonical, note.Verifier.from_vkey(log_vkey()), [])
    stranger = note.Signer.generate("localhost/scp-portal/audit").verifier().vkey()  # the log's name, not its key
    assert verify_cli(good, "--key", stranger).returncode == 1


def test_a_proof_for_another_tree_or_index_fails(events, pending, signing_key):
    made = pending()
    assert sign_now()[0] == 0
    first = receipt_text(made)
    events(5)
    assert sign_now()[0] == 0
    later = receipt_text(made)
    key = note.Verifier.from_vkey(log_vkey())
    assert receipt.verify(first, key, []) and receipt.verify(later, key, [])
    proof, _, checkpoint = first.partition("\n\n")
    other_checkpoint = later.split("\n\n", 1)[1].split(receipt.HEADER)[0]
    with pytest.raises(receipt.ReceiptError, match="is not in checkpoint"):  # the first tree's proof, the later tree
        receipt.verify(proof + "\n\n" + other_checkpoint, key, [])
    lines = proof.split("\n")
    with pytest.raises(receipt.ReceiptError, match="the proof is for index"):
        receipt.verify("\n".join([*lines[:2], "index 0", *lines[3:]]) + "\n\n" + checkpoint, key, [])
    with pytest.raises(receipt.ReceiptError, match="is not in checkpoint"):  # a truncated proof
        receipt.verify("\n".join(lines[:-1]) + "\n\n" + checkpoint, key, [])


def receipt_text(made) -> str:
    client = Client()
    client.force_login(made.requester)
    answer = client.get(f"/requests/{made.pk}/receipt/")
    assert answer.status_code == 200
    return answer.content.decode()


def test_before_a_checkpoint_covers_the_request_the_page_and_the_api_say_when(
    pending, requester, other_requester, signing_key
):
    made = pending()
    client = Client()
    client.force_login(requester)
    page = client.get(f"/requests/{made.pk}/receipt/", follow=True)
    assert page.redirect_chain[-1][0] == f"/requests/{made.pk}/" and "once a checkpoint covers" in page.content.decode()
    assert 'id="receipt"' in page.content.decode()
    secret = token_create(
        user=requester, name="t", scopes=["read"], expires_at=timezone.now() + dt.timedelta(days=1)
    ).secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    early = api.get(f"/api/v1/attach-requests/{made.pk}/receipt")
    assert early.status_code == 409 and "once a checkpoint covers" in early.json()["detail"]
    assert sign_now()[0] == 0
    ready = api.get(f"/api/v1/attach-requests/{made.pk}/receipt")
    assert ready.status_code == 200 and receipt.verify(ready.content.decode(), note.Verifier.from_vkey(log_vkey()), [])
    stranger = Client()
    stranger.force_login(other_requester)
    assert stranger.get(f"/requests/{made.pk}/receipt/").status_code == 404
    assert not AuditEvent.objects.filter(action="audit.receipt_issued", actor_name=other_requester.username).exists()


@pytest.mark.postgres
def test_a_receipt_carries_the_witness_cosignature_and_waits_for_it(
    pending, requester, signing_key, settings, tmp_path
):
    process = WitnessProcess(tmp_path, log_vkey())
    try:
        settings.CONFIG = settings.CONFIG.model_copy(update={"audit_witnesses": [f"{process.url} {process.vkey}"]})
        made = pending()
        client = Client()
        client.force_login(requester)
        assert sign_now()[0] == 0  # signed, but its witness not yet asked (the effect not delivered)
        waiting = client.get(f"/requests/{made.pk}/receipt/", follow=True).content.decode()
        assert "a witness has cosigned it" in waiting
        asked = Effect.objects.get(kind="audit.witness_checkpoint")
        assert effect_deliver(effect_id=asked.pk) == "delivered"  # as the worker would: the witness cosigns
        text = receipt_text(made)
        key, witness = note.Verifier.from_vkey(log_vkey()), note.Verifier.from_vkey(process.vkey)
        proven = receipt.verify(text, key, [witness])
        assert proven[-1].witnessed[0][0] == "witness.test/w1"
        path = tmp_path / "r.tlog-proof"
        path.write_text(text)
        checked = verify_cli(path, "--key", log_vkey(), "--witness", process.vkey)
        assert checked.returncode == 0 and "cosigned by witness.test/w1" in checked.stdout
        other = note.Signer.generate("witness.test/w2", note.COSIGNATURE).verifier().vkey()
        refused = verify_cli(path, "--key", log_vkey(), "--witness", other)
        assert refused.returncode == 1 and "not cosigned by witness.test/w2" in refused.stderr
    finally:
        process.stop()
