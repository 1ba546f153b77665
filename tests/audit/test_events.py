"""The audit log is append-only in Python, and its chain verifies."""

import pytest
from django.db import connection

from portal.audit import chain
from portal.audit.events import AuditAction
from portal.audit.models import AppendOnlyError, AuditEvent
from portal.audit.services import record_event


def verify_database():
    rows = AuditEvent.objects.order_by("seq").values(*chain.HASHED_FIELDS, "hash")
    from portal.audit.models import AuditChainHead

    head = AuditChainHead.objects.get(pk=1)
    return chain.verify(rows.iterator(), tip=(head.last_seq, head.last_hash))


def test_events_chain_and_verify(db):
    for i in range(5):
        record_event(
            action=AuditAction.DRIFT_REQUESTED, outcome="success", payload={"i": i, "text": "ünïcode", "f": 1.5}
        )
    verdict = verify_database()
    assert verdict.ok and verdict.events == 5
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2, 3, 4, 5]


def test_the_model_refuses_update_and_delete(db):
    event = record_event(action=AuditAction.DRIFT_REQUESTED, outcome="success")
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent(action="forged", outcome="success").save()


def test_a_changed_character_is_found(db):
    for i in range(4):
        record_event(action=AuditAction.DRIFT_REQUESTED, outcome="success", payload={"i": i})
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_name = 'mallory' WHERE seq = 3")
    verdict = verify_database()
    assert not verdict.ok and verdict.first_bad_seq == 3 and "changed" in verdict.problem
