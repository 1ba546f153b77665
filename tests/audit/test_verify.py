"""audit_verify finds every kind of damage made through raw SQL, on SQLite and PostgreSQL."""

import io
import json
import re
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction

from portal.audit.events import AuditAction
from portal.audit.models import AuditEvent, VerificationRun
from portal.audit.services import record_event

pytestmark = pytest.mark.postgres


def verify(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue() + err.getvalue()


def test_an_intact_log_verifies(events):
    events(40)
    assert verify() == (0, "40 events verified\n")
    assert VerificationRun.objects.get().ok


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (["UPDATE audit_auditevent SET actor_name = 'alicf' WHERE seq = 17"], "seq 17: changed"),
        (["UPDATE audit_auditevent SET payload = '{\"i\": 17}' WHERE seq = 17"], "seq 17: changed"),
        (["DELETE FROM audit_auditevent WHERE seq = 17"], "seq 17: missing"),
        (["DELETE FROM audit_auditevent WHERE seq = 40"], "seq 40: missing"),
        (
            ["DELETE FROM audit_auditevent WHERE seq = 17", "UPDATE audit_auditevent SET seq = seq - 1 WHERE seq > 17"],
            "seq 17: missing",
        ),
        (
            [
                "UPDATE audit_auditevent SET seq = -1 WHERE seq = 17",
                "UPDATE audit_auditevent SET seq = 17 WHERE seq = 19",
                "UPDATE audit_auditevent SET seq = 19 WHERE seq = -1",
            ],
            "seq 17: out of order",
        ),
    ],
    ids=["changed-name", "changed-payload", "deleted", "deleted-tail", "deleted-renumbered", "reordered"],
)
def test_damage_is_named(events, raw_sql, damage, expected):
    events(40)
    raw_sql(*damage)
    code, output = verify()
    assert code == 1, output
    assert expected in output, output


def forge_after(raw_sql, seq: int, *, shift_later: bool) -> None:
    """Insert an event with a valid hash linked to event `seq`, as an attacker with the database could."""
    from portal.audit.chain import HASHED_FIELDS, event_hash

    before = AuditEvent.objects.filter(seq=seq).values(*HASHED_FIELDS, "hash").get()
    forged = {**before, "seq": seq + 1, "action": "forged", "actor_name": "mallory", "prev_hash": before["hash"]}
    forged["hash"] = event_hash(forged)
    statements = []
    if shift_later:
        statements += [
            f"UPDATE audit_auditevent SET seq = seq + 100000 WHERE seq > {seq}",
            "UPDATE audit_auditevent SET seq = seq - 99999 WHERE seq > 100000",
        ]
    statements.append(
        "INSERT INTO audit_auditevent (seq, created_at, action, outcome, actor_id, actor_name, source_ip, user_agent,"
        " correlation_id, interface_request_id, target, payload, prev_hash, hash)"
        f" SELECT {seq + 1}, created_at, 'forged', outcome, actor_id, 'mallory', source_ip, user_agent,"
        f" correlation_id, interface_request_id, target, payload, '{forged['prev_hash']}', '{forged['hash']}'"
        " FROM audit_auditevent"
        f" WHERE seq = {seq}"
    )
    raw_sql(*statements)


@pytest.mark.parametrize(
    ("shift_later", "expected"),
    [(True, "seq 17: inserted"), (False, "seq 41: inserted")],
    ids=["in-the-middle", "after-the-head"],
)
def test_an_insertion_with_a_valid_hash_is_named(events, raw_sql, shift_later, expected):
    events(40)
    forge_after(raw_sql, 16 if shift_later else 40, shift_later=shift_later)
    code, output = verify()
    assert code == 1 and expected in output, output


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the triggers exist on PostgreSQL only")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'x' WHERE seq = 1",
        "DELETE FROM audit_auditevent WHERE seq = 1",
        "TRUNCATE audit_auditevent",
    ],
)
def test_postgresql_refuses_update_delete_and_truncate(events, statement):
    events(3)
    with pytest.raises((InternalError, ProgrammingError, IntegrityError), match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_gapless_chain():
    errors = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(50):
                record_event(action=AuditAction.DRIFT_REQUESTED, outcome="success", payload={"writer": n, "i": i})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 401))
    assert verify() == (0, "400 events verified\n")


def test_an_export_file_verifies_offline_and_its_damage_is_named(events, client, auditor, tmp_path):
    events(120)
    client.force_login(auditor)
    response = client.get("/audit/export.jsonl")
    body = b"".join(response.streaming_content).decode()
    path = tmp_path / "export.jsonl"
    path.write_text(body)
    lines = body.splitlines()
    assert len(lines) == 121  # 120 events, and the export's own sign-in event came before it
    assert verify("--file", str(path)) == (0, "121 events verified\n")
    row = json.loads(lines[50])
    row["actor_name"] = "someone-else"
    lines[50] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    code, output = verify("--file", str(path))
    assert code == 1 and "seq 51: changed" in output
    swapped = body.splitlines()
    swapped[10], swapped[11] = swapped[11], swapped[10]
    path.write_text("\n".join(swapped) + "\n")
    code, output = verify("--file", str(path))
    assert code == 1 and "seq 11: out of order" in output
    del swapped[10]  # now seq 12 is gone for good
    path.write_text("\n".join(swapped) + "\n")
    code, output = verify("--file", str(path))
    assert code == 1 and "seq 12: missing" in output


def test_a_filtered_export_verifies_with_partial(events, client, auditor, tmp_path):
    events(90)
    client.force_login(auditor)
    body = b"".join(client.get("/audit/export.jsonl?actor=bob").streaming_content).decode()
    path = tmp_path / "bob.jsonl"
    path.write_text(body)
    assert verify("--file", str(path), "--partial") == (0, "30 events verified\n")
    assert verify("--file", str(path))[0] == 1  # as a whole chain it has gaps


def test_a_file_that_is_not_an_export_is_refused_clearly(tmp_path):
    path = tmp_path / "junk.jsonl"
    path.write_text("hello\n")
    with pytest.raises(Exception, match="not JSON"):
        call_command("audit_verify", "--file", str(path))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ([], "100 events verified"),
        (["UPDATE audit_auditevent SET actor_name = 'x' WHERE seq = 77"], "seq 77: changed"),
        (["DELETE FROM audit_auditevent WHERE seq = 51"], "seq 51: missing"),  # at a range boundary
        (["DELETE FROM audit_auditevent WHERE seq = 100"], "seq 100: missing"),
    ],
    ids=["intact", "changed", "deleted-at-boundary", "deleted-tail"],
)
def test_parallel_verification_agrees_with_serial(monkeypatch, raw_sql, damage, expected):
    from portal.audit import services
    from portal.audit.services import record_events_bulk

    record_events_bulk([{"action": "test.event", "outcome": "success", "payload": {"i": i}} for i in range(100)])
    raw_sql(*damage)
    monkeypatch.setattr(services, "PARALLEL_THRESHOLD", 10)
    parallel = services.audit_verify_database(workers=2)
    monkeypatch.setattr(services, "PARALLEL_THRESHOLD", 10**9)
    serial = services.audit_verify_database(workers=2)
    assert expected in parallel.message, parallel.message
    assert (parallel.ok, parallel.first_bad_seq) == (serial.ok, serial.first_bad_seq)


@pytest.mark.django_db(transaction=True)
def test_verifying_while_the_portal_writes_is_no_false_alarm(events, monkeypatch):
    # The portal never stops writing (every SCP call is an event). A verification that runs meanwhile must
    # judge the chain up to the head it started from, and not call later, properly chained events inserted.
    monkeypatch.setattr("portal.audit.selectors.EXPORT_BATCH", 100)  # many reads, many chances to race
    events(1500)
    appended = []
    stop = threading.Event()

    def writer() -> None:
        try:
            while not stop.is_set():
                appended.append(record_event(action=AuditAction.DRIFT_REQUESTED, outcome="success", payload={}).seq)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    verdicts = []
    try:
        # Verify over and over while the writer writes, until both have done enough: no timing assumed.
        while len(verdicts) < 5 or len(appended) < 20:
            verdicts.append(verify())
    finally:
        stop.set()
        thread.join()
    assert all(code == 0 for code, _ in verdicts), [output for code, output in verdicts if code]
    assert verify() == (0, f"{1500 + len(appended)} events verified\n")


def rewrite_chain_from(raw_sql, seq: int) -> None:
    """Change event `seq` and recompute every hash after it, and the head: what a database owner could do."""
    from portal.audit.chain import HASHED_FIELDS, event_hash

    rows = list(AuditEvent.objects.filter(seq__gte=seq - 1).order_by("seq").values(*HASHED_FIELDS, "hash"))
    previous = rows[0]["hash"]
    statements = []
    for row in rows[1:]:
        row = {**row, "prev_hash": previous}
        if row["seq"] == seq:
            row["actor_name"] = "mallory"
        previous = event_hash(row)
        statements.append(
            f"UPDATE audit_auditevent SET actor_name = '{row['actor_name']}', prev_hash = '{row['prev_hash']}', "
            f"hash = '{previous}' WHERE seq = {row['seq']}"
        )
    statements.append(f"UPDATE audit_auditchainhead SET last_hash = '{previous}'")
    raw_sql(*statements)


def test_an_anchor_kept_elsewhere_exposes_a_rewritten_chain(events, raw_sql):
    events(40)
    code, output = verify("--show-anchor")
    anchor = output.splitlines()[1].removeprefix("anchor: ")
    assert code == 0 and anchor.startswith("40:") and len(anchor) == 3 + 64
    assert verify("--anchor", anchor) == (0, "40 events verified\n")
    rewrite_chain_from(raw_sql, 25)
    assert verify() == (0, "40 events verified\n")  # a consistent rewrite: the chain alone cannot tell
    code, output = verify("--anchor", anchor)
    assert code == 1 and "seq 40: changed" in output and "rewritten" in output
    assert not VerificationRun.objects.order_by("-ran_at").first().ok  # the badge says so too


def test_anchors_hold_for_exported_files_and_bad_anchors_are_refused(events, client, auditor, tmp_path):
    events(30)
    code, output = verify("--show-anchor")
    seq, digest = output.splitlines()[1].removeprefix("anchor: ").split(":")
    client.force_login(auditor)
    shown = re.search(r'<code id="anchor">(\d+:[0-9a-f]{64})</code>', client.get("/audit/").content.decode())
    assert verify("--anchor", shown.group(1))[0] == 0  # the review page offers the same kind of anchor
    path = tmp_path / "export.jsonl"
    path.write_text(b"".join(client.get("/audit/export.jsonl").streaming_content).decode())
    assert verify("--file", str(path), "--anchor", f"{seq}:{digest}")[0] == 0
    last = json.loads(path.read_text().splitlines()[-1])
    assert verify("--file", str(path), "--show-anchor")[1].splitlines()[1] == f"anchor: {last['seq']}:{last['hash']}"
    code, output = verify("--file", str(path), "--anchor", f"{seq}:{'0' * 64}")
    assert code == 1 and f"seq {seq}: changed" in output
    code, output = verify("--file", str(path), "--anchor", f"999:{digest}")
    assert code == 1 and "seq 999: missing" in output
    for bad in ("30", "x:y", f"0:{digest}", f"30:{digest[:-1]}", "30:" + "g" * 64):
        with pytest.raises(CommandError, match="an anchor is SEQ:HASH"):
            call_command("audit_verify", "--anchor", bad)


def test_a_tree_root_kept_elsewhere_exposes_a_rewritten_history_and_deleted_newest_events(events, raw_sql):
    from portal.audit import merkle

    events(40)
    code, output = verify("--show-root")
    kept = output.splitlines()[1].removeprefix("root: ")
    hashes = list(AuditEvent.objects.order_by("seq").values_list("hash", flat=True))
    assert code == 0 and kept == merkle.root_text(40, merkle.root_of([merkle.chain_leaf(h) for h in hashes]))
    events(5)  # the log grows: it still extends the tree kept at 40
    assert verify("--root", kept) == (0, "45 events verified\n")
    rewrite_chain_from(raw_sql, 25)
    assert verify() == (0, "45 events verified\n")  # a consistent rewrite: the chain alone cannot tell
    code, output = verify("--root", kept)
    assert code == 1 and "The first 40 events no longer make the root" in output


def test_deleting_the_newest_events_and_moving_the_head_back_is_found_by_a_kept_root(events, raw_sql):
    events(40)
    kept = verify("--show-root")[1].splitlines()[1].removeprefix("root: ")
    head = AuditEvent.objects.get(seq=30).hash
    raw_sql(
        "DELETE FROM audit_auditevent WHERE seq > 30",
        f"UPDATE audit_auditchainhead SET last_seq = 30, last_hash = '{head}'",
    )
    assert verify() == (0, "30 events verified\n")  # a shorter chain, valid in itself
    code, output = verify("--root", kept)
    assert code == 1 and "The log has 30 events, but a tree of 40 was recorded" in output


def test_roots_hold_for_exported_files_and_bad_roots_are_refused(events, client, auditor, tmp_path):
    events(30)
    kept = verify("--show-root")[1].splitlines()[1].removeprefix("root: ")
    client.force_login(auditor)
    path = tmp_path / "export.jsonl"
    path.write_text(b"".join(client.get("/audit/export.jsonl").streaming_content).decode())
    assert verify("--file", str(path), "--root", kept)[0] == 0
    from portal.audit import merkle

    exported = [json.loads(line)["hash"] for line in path.read_text().splitlines()]  # (the export is an event too)
    whole = merkle.root_text(len(exported), merkle.root_of([merkle.chain_leaf(h) for h in exported]))
    assert verify("--file", str(path), "--show-root")[1].splitlines()[1] == f"root: {whole}"
    root = kept.split(":")[1]
    code, output = verify("--file", str(path), "--root", f"999:{root}")
    assert code == 1 and "a tree of 999 was recorded" in output
    for bad in ("30", "x:y", f"0:{root}", f"30:{root[:-4]}", "30:not base64!"):
        with pytest.raises(CommandError, match="is not SIZE:ROOT"):
            call_command("audit_verify", "--root", bad)
    with pytest.raises(CommandError, match="a filtered export lacks events"):
        call_command("audit_verify", "--file", str(path), "--partial", "--root", kept)
