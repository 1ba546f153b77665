"""Signed checkpoints of the audit log: C2SP signed notes and tlog-checkpoints, never one inconsistent with an earlier
one, published without sign-in, with consistency proofs between them, and kept ones checked by audit_verify."""

import base64
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from portal.audit import merkle, note
from portal.audit.models import AuditCheckpoint, AuditEvent

from .test_verify import rewrite_chain_from, verify

pytestmark = pytest.mark.postgres
# c2sp.org/signed-note's example: this verifier key verifies this note.
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_NOTE = (
    "This is an example message.\n\n— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def sign_now() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_checkpoint", stdout=out, stderr=err)
        return 0, out.getvalue()
    except SystemExit as exc:
        return exc.code, err.getvalue()


def leaves() -> list[bytes]:
    return [merkle.chain_leaf(h) for h in AuditEvent.objects.order_by("seq").values_list("hash", flat=True)]


def test_the_signed_note_specs_example_verifies_and_a_changed_or_foreign_note_does_not():
    verifier = note.Verifier.from_vkey(EXAMPLE_VKEY)
    assert note.open_note(EXAMPLE_NOTE, [verifier])[0] == "This is an example message.\n"
    assert verifier.vkey() == EXAMPLE_VKEY
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(EXAMPLE_NOTE.replace("example message", "example massage"), [verifier])
    other = note.Signer.generate("example.com/foo")  # the same name, another key: its signatures are ignored
    with pytest.raises(note.NoteError, match="no signature from a trusted key"):
        note.open_note(EXAMPLE_NOTE, [other.verifier()])
    for bad in ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "a+b", "x y+00000000+AA=="):
        with pytest.raises(note.NoteError):
            note.Verifier.from_vkey(bad)
    key = note.Signer.generate("example.com/bar")
    assert note.Signer.from_text(key.text()).verifier().vkey() == key.verifier().vkey()
    with pytest.raises(note.NoteError):
        note.Signer.from_text(key.text().replace("example.com/bar", "example.com/baz"))


def test_a_checkpoint_is_signed_published_and_verifies_with_the_printed_key(events, signing_key, auditor):
    events(25)
    code, signed = sign_now()
    assert code == 0
    vkey = io.StringIO()
    call_command("audit_checkpoint", "--verifier-key", stdout=vkey)
    text, _ = note.open_note(signed, [note.Verifier.from_vkey(vkey.getvalue().strip())])
    origin, size, root = note.parse_checkpoint(text)
    assert (origin, size) == ("localhost/scp-portal/audit", 25) and root == merkle.root_of(leaves())
    public = Client().get("/audit/checkpoint")  # no sign-in
    assert public.status_code == 200 and public["Content-Type"].startswith("text/plain")
    assert public.content.decode() == signed
    assert sign_now() == (0, signed)  # nothing new: the same checkpoint, not another
    assert AuditCheckpoint.objects.count() == 1
    client = Client()
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert vkey.getvalue().strip() in page and "Signed checkpoint: 25 events" in page


def test_consistency_proofs_between_checkpoints_verify(events, signing_key):
    events(13)
    sign_now()
    events(21)
    sign_now()
    old, new = AuditCheckpoint.objects.order_by("size")
    body = Client().get("/audit/proof/consistency", {"old": old.size, "new": new.size})
    assert body.status_code == 200
    proof = [base64.b64decode(line) for line in body.content.decode().splitlines()]
    merkle.verify_consistency(old.size, new.size, bytes.fromhex(old.root), bytes.fromhex(new.root), proof)
    assert new.root == merkle.root_of(leaves()).hex()  # continued from the first one's edge, the same tree
    for query in ({"old": new.size, "new": old.size}, {"old": 5, "new": new.size}, {"old": "x"}, {}):
        assert Client().get("/audit/proof/consistency", query).status_code in (400, 404)


def test_a_rewritten_history_is_never_signed_and_a_kept_checkpoint_exposes_it(events, signing_key, raw_sql, tmp_path):
    events(30)
    code, signed = sign_now()
    kept = tmp_path / "30.checkpoint"
    kept.write_text(signed)
    assert verify("--checkpoint", str(kept)) == (0, "30 events verified\n")
    events(4)
    rewrite_chain_from(raw_sql, 12)
    code, output = sign_now()
    assert code == 1 and "history was rewritten" in output
    assert AuditCheckpoint.objects.count() == 1  # nothing signed
    assert AuditEvent.objects.filter(action="audit.checkpoint_refused").exists()
    code, output = verify("--checkpoint", str(kept))
    assert code == 1 and "The first 30 events no longer make the root" in output


def test_deleted_newest_events_are_never_signed_over_and_a_kept_checkpoint_exposes_them(
    events, signing_key, raw_sql, tmp_path
):
    events(30)
    kept = tmp_path / "30.checkpoint"
    kept.write_text(sign_now()[1])
    head = AuditEvent.objects.get(seq=24).hash
    raw_sql(
        "DELETE FROM audit_auditevent WHERE seq > 24",
        f"UPDATE audit_auditchainhead SET last_seq = 24, last_hash = '{head}'",
    )
    code, output = sign_now()
    assert code == 1 and "events at the end were deleted" in output
    code, output = verify("--checkpoint", str(kept))
    assert code == 1 and "a tree of 30 was recorded" in output


def test_a_forged_or_foreign_checkpoint_is_refused(events, signing_key, tmp_path):
    events(10)
    signed = sign_now()[1]
    forged = tmp_path / "forged.checkpoint"
    forged.write_text(signed.replace("\n10\n", "\n9\n"))
    with pytest.raises(CommandError, match="does not verify"):
        call_command("audit_verify", "--checkpoint", str(forged))
    stranger = note.Signer.generate("localhost/scp-portal/audit")
    foreign = tmp_path / "foreign.checkpoint"
    foreign.write_text(stranger.sign(note.checkpoint_text(stranger.name, 10, merkle.root_of(leaves()))))
    with pytest.raises(CommandError, match="no signature from a trusted key"):
        call_command("audit_verify", "--checkpoint", str(foreign))
    assert verify("--checkpoint", str(foreign), "--key", stranger.verifier().vkey())[0] == 0  # with its own key


def test_without_a_key_nothing_is_signed_and_the_command_says_why(events, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"audit_signing_key_file": None})
    events(3)
    with pytest.raises(CommandError, match="AUDIT_SIGNING_KEY_FILE"):
        call_command("audit_checkpoint")
    assert Client().get("/audit/checkpoint").status_code == 404


def test_the_schedulers_task_signs_when_the_log_grew_and_writes_the_checkpoint_out(
    events, signing_key, settings, tmp_path
):
    from portal.audit.tasks import sign_audit_checkpoint

    folder = tmp_path / "worm"
    folder.mkdir()
    settings.CONFIG = settings.CONFIG.model_copy(update={"audit_checkpoint_dir": folder})
    events(7)
    assert sign_audit_checkpoint.call() == "checkpoint 7"
    assert sign_audit_checkpoint.call() == "the log has not grown"
    assert (folder / "7.checkpoint").read_text() == AuditCheckpoint.objects.get().note
