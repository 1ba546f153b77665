"""The action catalogue: every action has words in English and Korean, and nothing outside it is recorded."""

import pytest
from django.contrib import admin
from django.utils import translation

from portal.audit.events import AuditAction, Category, action_named, admin_action
from portal.audit.forms import KNOWN_ACTIONS
from portal.audit.models import AuditEvent, Outcome
from portal.audit.services import record_event
from portal.audit.words import event_words
from portal.core.admin import AuditedAdmin
from portal.interfaces.lifecycle import TRANSITIONS


def test_every_action_has_english_and_korean_words_an_outcome_and_a_category():
    for action in AuditAction:
        english = str(action.words)
        with translation.override("ko"):
            korean = str(action.words)
        assert english.strip(), action
        assert korean != english, f"{action.value} has no Korean words"
        assert isinstance(action.outcome, Outcome) and isinstance(action.category, Category)


def test_no_two_members_share_a_stored_value():
    # An Enum makes a repeated value an alias silently: two names would then write one action.
    assert len(AuditAction.__members__) == len(list(AuditAction))


def test_record_event_refuses_a_free_string(db):
    with pytest.raises(TypeError, match="AuditAction"):
        record_event(action="interface_request.submited", outcome=Outcome.SUCCESS)
    assert not AuditEvent.objects.exists()


def test_an_event_stores_the_members_value_and_its_default_outcome(db):
    event = record_event(action=AuditAction.EXPIRED)
    event.refresh_from_db()
    assert (event.action, event.outcome) == ("approval.expired", "failure")


def test_the_filter_the_timeline_and_the_lifecycle_read_the_catalogue():
    assert set(KNOWN_ACTIONS) >= {a.value for a in AuditAction}  # with their prefixes and the categories
    assert {step.action for step in TRANSITIONS.values()} <= set(AuditAction)

    class Stored:
        def __init__(self, action):
            self.action, self.payload = action, {}

    assert event_words(Stored("approval.rejected")) == "Rejected"
    with translation.override("ko"):
        assert event_words(Stored("approval.rejected")) == str(AuditAction.REJECTED.words)
    assert event_words(Stored("something.old")) == "something.old"  # a string outside it is shown as stored
    assert action_named("something.old") is None


@pytest.mark.parametrize("verb", ["added", "changed", "deleted"])
def test_every_audited_admin_change_has_a_member(verb):
    audited = [model for model, model_admin in admin.site._registry.items() if isinstance(model_admin, AuditedAdmin)]
    assert audited
    for model in audited:
        assert admin_action(model._meta.model_name, verb).category == Category.ADMIN
