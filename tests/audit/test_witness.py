"""The witness (python -m portal.audit.witness): the c2sp.org/tlog-witness exchange, refusing rollbacks and forks,
cosigning (c2sp.org/tlog-cosignature); and the portal sending it each checkpoint and keeping its cosignatures."""

import base64
import hashlib
import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client

from portal.audit import merkle, note
from portal.audit.models import AuditCheckpoint, AuditCosignature, AuditEvent
from portal.audit.witness import Witness
from portal.core.health import readiness

from .test_checkpoints import sign_now
from .test_verify import rewrite_chain_from

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "example.com/test-log"


class Log:
    """A log in memory, signed with its own key: what the witness sees of one."""

    def __init__(self, origin: str = ORIGIN) -> None:
        self.key = note.Signer.generate(origin)
        self.leaves: list[bytes] = []

    def grow(self, n: int, salt: str = "") -> None:
        start = len(self.leaves)
        self.leaves += [merkle.leaf_hash(f"{salt}leaf {i}".encode()) for i in range(start, start + n)]

    def checkpoint(self, size: int | None = None, key: note.Signer | None = None) -> str:
        size = len(self.leaves) if size is None else size
        return (key or self.key).sign(note.checkpoint_text(self.key.name, size, merkle.root_of(self.leaves[:size])))

    def body(self, old: int, size: int | None = None, proof: list[bytes] | None = None, **kw) -> str:
        size = len(self.leaves) if size is None else size
        if proof is None:
            proof = merkle.consistency_proof(old, size, merkle.memory_ranges(self.leaves)) if old else []
        return (
            f"old {old}\n"
            + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
            + "\n"
            + self.checkpoint(size, **kw)
        )


@pytest.fixture
def log():
    return Log()


@pytest.fixture
def witness(tmp_path, log):
    return Witness(
        note.Signer.generate("witness.example/w1", note.COSIGNATURE), tmp_path / "w.json", [log.key.verifier()]
    )


def cosigned_at(witness: Witness, signed: str, answer: str) -> int:
    _, found = note.signatures_of(signed + answer, [witness.key.verifier()])
    assert len(found) == 1
    return found[0][1]


def test_a_witness_cosigns_a_checkpoint_and_each_that_extends_it(witness, log):
    log.grow(5)
    answer = witness.add_checkpoint(log.body(0))
    assert answer.status == 200 and answer.body.startswith("— witness.example/w1 ")
    assert abs(cosigned_at(witness, log.checkpoint(), answer.body) - time.time()) < 600
    log.grow(8)
    assert witness.add_checkpoint(log.body(5)).status == 200
    assert json.loads(witness.state.read_text())[ORIGIN]["size"] == 13
    again = witness.add_checkpoint(log.body(13))  # the same tree once more: cosigned again, nothing moves
    assert again.status == 200
    served = witness.latest(hashlib.sha256(ORIGIN.encode()).hexdigest())
    assert served.status == 200 and note.open_note(served.body, [log.key.verifier()])
    assert len(note.signatures_of(served.body, [log.key.verifier(), witness.key.verifier()])[1]) == 2
    assert witness.latest("0" * 64).status == 404
    # The cosigner key's vkey has type 0x04 and comes back as the same key.
    vkey = witness.key.verifier().vkey()
    assert (
        base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04 and note.Verifier.from_vkey(vkey) == witness.key.verifier()
    )


def test_a_rollback_is_refused_with_the_size_the_witness_holds_and_kept_as_evidence(witness, log):
    log.grow(10)
    assert witness.add_checkpoint(log.body(0)).status == 200
    stale = witness.add_checkpoint(log.body(0, size=6))  # a client that does not know: told the size held
    assert (stale.status, stale.body, stale.content_type) == (409, "10\n", "text/x.tlog.size")
    assert witness.add_checkpoint(log.body(10, size=6, proof=[])).status == 400  # old above the checkpoint's
    evidence = [json.loads(line) for line in witness.state.with_name("w.json.refused").read_text().splitlines()]
    assert evidence[0]["reason"].startswith("rollback: size 6 after 10")
    assert note.open_note(evidence[0]["checkpoint"], [log.key.verifier()])  # signed by the log: proof it did this
    assert json.loads(witness.state.read_text())[ORIGIN]["size"] == 10


def test_a_fork_is_refused_the_same_size_with_another_root_or_a_tree_that_does_not_extend(witness, log):
    log.grow(10)
    assert witness.add_checkpoint(log.body(0)).status == 200
    other = Log()
    other.key = log.key  # the log's own key signing another history
    other.grow(10, salt="rewritten ")
    same_size = witness.add_checkpoint(other.body(10, proof=[]))
    assert same_size.status == 422 and "not consistent" in same_size.body
    other.grow(6, salt="rewritten ")
    longer = witness.add_checkpoint(
        other.body(10, proof=merkle.consistency_proof(10, 16, merkle.memory_ranges(other.leaves)))
    )
    assert longer.status == 422
    log.grow(6)
    truncated = merkle.consistency_proof(10, 16, merkle.memory_ranges(log.leaves))[:-1]
    assert witness.add_checkpoint(log.body(10, proof=truncated)).status == 422
    reasons = witness.state.with_name("w.json.refused").read_text()
    assert reasons.count('"reason": "fork') == 3
    assert witness.add_checkpoint(log.body(10)).status == 200  # the true extension is still cosigned


def test_unknown_logs_foreign_signatures_and_malformed_bodies_are_refused(witness, log):
    log.grow(3)
    stranger = Log("example.com/another-log")
    stranger.grow(3)
    assert witness.add_checkpoint(stranger.body(0)).status == 404
    impostor = note.Signer.generate(ORIGIN)  # the log's name, another key
    assert witness.add_checkpoint(log.body(0, key=impostor)).status == 403
    forged = log.body(0).replace(
        base64.b64encode(merkle.root_of(log.leaves)).decode(), base64.b64encode(b"\1" * 32).decode()
    )
    assert witness.add_checkpoint(forged).status == 403
    empty_with_root = f"old 0\n\n{log.key.sign(note.checkpoint_text(ORIGIN, 0, b'\2' * 32))}"
    assert witness.add_checkpoint(empty_with_root).status == 422
    assert witness.add_checkpoint(log.body(0, proof=[b"\3" * 32])).status == 422  # from 0 the proof is empty
    for body in (
        "",
        "old 0\n",
        "old 01\n\n" + log.checkpoint(),
        "new 0\n\n" + log.checkpoint(),
        "old 0\nnot base64!\n\n" + log.checkpoint(),
        "old 0\n" + "AAAA\n" * 64 + "\n" + log.checkpoint(),
        "old 0\n\nnot a checkpoint\n",
    ):
        assert witness.add_checkpoint(body).status == 400, body
    assert not witness.state.exists()  # nothing was cosigned


def test_the_witness_and_receipt_tools_need_no_django():
    code = (
        "import sys; import portal.audit.witness, portal.audit.receipt; "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, timeout=120).returncode == 0


class WitnessProcess:
    def __init__(self, tmp_path: Path, log_vkey: str) -> None:
        self.key_file, self.state = tmp_path / "witness.key", tmp_path / "witness.json"
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "portal.audit.witness",
                "new-key",
                "--name",
                "witness.test/w1",
                "--key",
                str(self.key_file),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        self.vkey = made.stdout.strip()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "portal.audit.witness",
                "serve",
                "--key",
                str(self.key_file),
                "--state",
                str(self.state),
                "--log",
                log_vkey,
                "--listen",
                "127.0.0.1:0",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], 120)  # its first line says where it listens
        line = self.process.stdout.readline() if ready else ""
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"the witness did not start: {line!r}")
        self.url = line.split("listening on ")[1].strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.process.stdout.close()


@pytest.fixture
def witness_process(signing_key, settings, tmp_path):
    vkey = io.StringIO()
    call_command("audit_checkpoint", "--verifier-key", stdout=vkey)
    process = WitnessProcess(tmp_path, vkey.getvalue().strip())
    settings.CONFIG = settings.CONFIG.model_copy(update={"audit_witnesses": [f"{process.url} {process.vkey}"]})
    yield process
    process.stop()


def sign_and_deliver(capture) -> str:
    with capture(execute=True):
        code, signed = sign_now()
    assert code == 0
    return signed


@pytest.mark.postgres
def test_the_portal_has_each_checkpoint_cosigned_by_a_real_witness(
    events, witness_process, auditor, django_capture_on_commit_callbacks
):
    events(10)
    signed = sign_and_deliver(django_capture_on_commit_callbacks)
    cosignature = AuditCosignature.objects.get()
    assert (cosignature.witness, cosignature.checkpoint.size) == ("witness.test/w1", 10)
    published = Client().get("/audit/checkpoint").content.decode()
    assert published == signed + cosignature.line
    witness_key = note.Verifier.from_vkey(witness_process.vkey)
    assert note.signatures_of(published, [witness_key])[1][0][1] == int(cosignature.signed_at.timestamp())
    events(7)
    sign_and_deliver(django_capture_on_commit_callbacks)  # sent with a consistency proof from 10
    assert list(AuditCosignature.objects.values_list("checkpoint__size", flat=True)) == [17, 10]
    assert json.loads(witness_process.state.read_text())[django_settings.CONFIG.audit_log_origin]["size"] == 17
    origin_hash = hashlib.sha256(django_settings.CONFIG.audit_log_origin.encode()).hexdigest()
    served = requests.get(f"{witness_process.url}/{origin_hash}/checkpoint", timeout=30).text
    assert served.startswith(AuditCheckpoint.objects.get(size=17).note)
    client = Client()
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert "Witnessed by witness.test/w1" in page and "(checkpoint 17)" in page
    ok, checks = readiness()
    assert (
        "witness.test/w1 cosigned 17" in checks["witnesses"]["detail"] and "quiet" not in checks["witnesses"]["detail"]
    )


@pytest.mark.postgres
def test_a_witness_that_holds_another_size_is_answered_from_it(
    events, witness_process, django_capture_on_commit_callbacks
):
    events(6)
    sign_and_deliver(django_capture_on_commit_callbacks)
    AuditCosignature.objects.all().delete()  # the portal forgot; the witness did not
    events(4)
    sign_and_deliver(django_capture_on_commit_callbacks)  # old 0 → 409 "6" → old 6 with its proof → cosigned
    assert list(AuditCosignature.objects.values_list("checkpoint__size", flat=True)) == [10]
    assert not AuditEvent.objects.filter(action="audit.witness_refused").exists()


@pytest.mark.postgres
def test_a_rewritten_history_with_its_checkpoints_replaced_is_never_witnessed(
    events, witness_process, raw_sql, settings, django_capture_on_commit_callbacks
):
    events(10)
    sign_and_deliver(django_capture_on_commit_callbacks)
    rewrite_chain_from(raw_sql, 4)  # whoever owns the database rewrites history, recomputes every hash,
    AuditCosignature.objects.all().delete()  # and replaces the checkpoints the portal signed
    AuditCheckpoint.objects.all().delete()
    sign_and_deliver(django_capture_on_commit_callbacks)  # the rewritten tree of 10: a fork the witness refuses
    assert not AuditCosignature.objects.exists()
    refused = AuditEvent.objects.get(action="audit.witness_refused")
    assert refused.payload["status"] == 422 and refused.payload["witness"] == "witness.test/w1"
    evidence = witness_process.state.with_name("witness.json.refused").read_text()
    assert '"reason": "fork' in evidence
    later = django_settings.CONFIG.model_copy(update={"audit_witness_quiet_seconds": 60})
    settings.CONFIG = later
    AuditCheckpoint.objects.update(created_at=AuditCheckpoint.objects.get().created_at.replace(year=2025))
    ok, checks = readiness()
    assert "quiet: witness.test/w1 cosigned 0" in checks["witnesses"]["detail"]
