"""Auditors filter, page and export the log; nobody else can; nothing here changes it."""

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.events import AuditAction
from portal.audit.models import AuditEvent
from portal.audit.selectors import EventFilter, event_page


@pytest.mark.parametrize(
    "filters",
    [
        EventFilter(),
        EventFilter(actor="bob"),
        EventFilter(action="scp.call", outcome="failure"),
        EventFilter(server_id="server-3"),
        EventFilter(request_id=5),
        EventFilter(text="number 1"),
    ],
)
def test_keyset_pages_have_no_gaps_or_repeats(events, filters):
    events(3000)
    expected = list(filters.apply(AuditEvent.objects.all()).order_by("-seq").values_list("seq", flat=True))
    seen, before = [], None
    while True:
        page = event_page(filters=filters, before=before, size=97)
        seen += [e.seq for e in page.events]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == expected and len(seen) == len(set(seen)) and seen


def test_deep_pages_use_neither_count_nor_offset(events, client, auditor):
    events(500)
    client.force_login(auditor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/audit/?before=100&actor=alice")
    assert response.status_code == 200
    event_sql = [q["sql"].upper() for q in queries.captured_queries if "AUDIT_AUDITEVENT" in q["sql"].upper()]
    assert event_sql and not any("COUNT(" in sql or "OFFSET" in sql for sql in event_sql)


def test_review_filters_by_time_and_shows_events(events, client, auditor):
    events(100)
    client.force_login(auditor)
    page = client.get("/audit/?since=2026-11-01T00:00:10&until=2026-11-01T00:00:20").content.decode()
    assert page.count('href="/audit/events/') == 10


@pytest.mark.parametrize(
    "query",
    [
        "?since=yesterday",
        "?request=abc",
        "?outcome=maybe",
        "?before=-5",
        "?since=2026-11-02T00:00&until=2026-11-01T00:00",
        "?q=" + "x" * 500,
    ],
)
def test_bad_filters_are_explained_not_500(events, client, auditor, query):
    events(5)
    client.force_login(auditor)
    response = client.get("/audit/" + query)
    assert response.status_code == 200 and b"Correct the filters" in response.content


def test_event_page_shows_the_scp_call_readably(sim, world, client, auditor):
    from portal.core.scp import scp_client

    scp_client().get_server(world.servers["web-01"].id)
    event = AuditEvent.objects.get(action="scp.call")
    client.force_login(auditor)
    page = client.get(f"/audit/events/{event.seq}/").content.decode()
    assert f"GET {event.payload['url']}" in page and "virtualserver 1.3" in page


def test_csv_export_defuses_formula_cells(events, client, auditor):
    events(4, actor_name='=HYPERLINK("http://evil")', target="+1+1", user_agent="@SUM(A1)", correlation_id="-2+3")
    client.force_login(auditor)
    body = b"".join(client.get("/audit/export.csv").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    forged = [r for r in rows if r["seq"] in {"1", "2", "3", "4"}]
    assert len(forged) == 4
    for row in forged:
        assert row["actor_name"].startswith("'=") and row["target"] == "'+1+1"
        assert row["user_agent"] == "'@SUM(A1)" and row["correlation_id"] == "'-2+3"


def test_csv_export_quotes_every_cell_so_no_separator_splits_a_formula_out(events, client, auditor):
    events(1, user_agent="x;=1+1;y", actor_name="a\t=2+2")
    client.force_login(auditor)
    body = b"".join(client.get("/audit/export.csv").streaming_content).decode()
    assert '"x;=1+1;y"' in body and '"a\t=2+2"' in body
    header = body.splitlines()[0]
    assert header.startswith('"seq",')  # every cell, the header's too


def test_exporting_is_audited(events, client, auditor):
    events(3)
    client.force_login(auditor)
    b"".join(client.get("/audit/export.csv?outcome=denied").streaming_content)
    exported = AuditEvent.objects.get(action="audit.exported")
    assert exported.actor_name == "auditor" and exported.payload["filters"] == {"outcome": "denied"}


@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv", "/audit/export.jsonl", "/audit/events/1/"])
def test_requesters_and_approvers_cannot_review(events, client, requester, approver, path):
    events(3)
    for user in (requester, approver):
        client.force_login(user)
        assert client.get(path).status_code == 404
    assert AuditEvent.objects.filter(action="audit.access", outcome="denied").count() == 2


def test_auditors_change_nothing_even_in_the_admin(events, client, auditor, django_user_model):
    events(3)
    client.force_login(auditor)
    assert client.post("/audit/events/1/").status_code == 405
    admin = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(admin)
    assert client.get("/admin/audit/auditevent/").status_code == 403  # being a superuser is not being an auditor
    admin.groups.add(Group.objects.get(name="auditor"))
    admin = django_user_model.objects.get(pk=admin.pk)
    client.force_login(admin)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.post("/admin/audit/auditevent/1/delete/", {"post": "yes"}).status_code == 403
    assert client.post("/admin/audit/auditevent/1/change/", {"action": "x"}).status_code == 403
    assert AuditEvent.objects.filter(seq=1).values_list("action", flat=True).get() != "x"


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("term", "matches"),
    [
        ("NUMBER 7", {7} | set(range(70, 80)) | set(range(700, 800))),
        ("number 12 ", set()),
        ('number 42"', {42}),
        ("50%", set()),
        ("r_1", set()),
    ],
)
def test_payload_text_filter_is_exact_on_this_database(events, term, matches):
    events(1000)
    found = EventFilter(text=term).apply(AuditEvent.objects.all()).values_list("payload__i", flat=True)
    assert set(found) == matches


@pytest.mark.postgres
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the trigram index exists on PostgreSQL only")
def test_the_payload_text_filter_can_use_the_trigram_index(events):
    events(50)
    query = EventFilter(text="number 42").apply(AuditEvent.objects.all()).order_by("-seq")[:51]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:  # small table: forbid the scan to see whether the index fits the SQL
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "audit_payload_trgm" in plan, plan


def test_the_correlation_link_lists_the_events_of_that_request(client, auditor, sim, world, requester):
    """One HTTP request (a submission) writes several events under one correlation id; its link finds them all."""
    import re
    import uuid

    from portal.core.context import RequestContext, bound
    from portal.interfaces import services

    with bound(RequestContext(correlation_id="c0ffee" * 5, actor_name="requester")):
        services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="x",
            server_id=world.servers["web-01"].id,
            mode="subnet",
            subnet_id=world.subnets["prod-db"].id,
        )
    mine = set(AuditEvent.objects.filter(correlation_id="c0ffee" * 5).values_list("seq", flat=True))
    assert len(mine) >= 3  # SCP reads, the submission, the automatic approval
    client.force_login(auditor)
    detail = client.get(f"/audit/events/{min(mine)}/").content.decode()
    link = re.search(r'href="(/audit/\?correlation=[^"]+)"', detail).group(1)
    listed = client.get(link.replace("&amp;", "&")).content.decode()
    shown = {int(s) for s in re.findall(r'href="/audit/events/(\d+)/[^"]*"', listed)}
    assert shown == mine


def test_verify_shows_running_until_the_new_result_and_keeps_the_filters(client, auditor):
    import datetime as dt

    from django.utils import timezone

    from portal.audit.models import Outcome, VerificationRun
    from portal.audit.services import record_event

    VerificationRun.objects.create(
        ran_at=timezone.now() - dt.timedelta(hours=1), ok=True, events=1, message="1 events verified"
    )
    client.force_login(auditor)
    record_event(action=AuditAction.VERIFY_STARTED, outcome=Outcome.SUCCESS, actor=auditor)  # queued, not yet run
    page = client.get("/audit/?action=auth.login").content.decode()
    assert "verification running" in page and "intact" not in page and 'hx-trigger="every 2s"' in page
    assert 'action="/audit/verify/?action=auth.login"' in page
    VerificationRun.objects.create(ran_at=timezone.now(), ok=True, events=2, message="2 events verified")
    badge = client.get("/audit/?fragment=integrity", headers={"HX-Request": "true"}).content.decode()
    assert "intact" in badge and "2 events verified" in badge and "every 2s" not in badge
    answer = client.post("/audit/verify/?action=auth.login")
    assert answer["Location"] == "/audit/?action=auth.login"


def test_links_and_exports_carry_the_filters_but_not_the_fragment_marker(client, auditor, events):
    events(5)
    client.force_login(auditor)
    results = client.get("/audit/?actor=alice&fragment=1", headers={"HX-Request": "true"}).content.decode()
    assert "fragment" not in results  # the export and paging links
    b"".join(client.get("/audit/export.csv?actor=alice&fragment=1").streaming_content)
    assert AuditEvent.objects.filter(action="audit.exported").latest("seq").payload["filters"] == {"actor": "alice"}


def test_page_reads_name_their_server_and_the_action_filter_suggests_actions(client, auditor, requester, sim, world):
    server = world.servers["web-01"]
    client.force_login(requester)
    assert client.get(f"/servers/{server.id}/").status_code == 200
    reads = AuditEvent.objects.filter(action="scp.call", actor_name="requester")
    assert reads.exists() and {e.target for e in reads if "/servers/" in e.payload["url"]} == {server.id}
    client.force_login(auditor)
    page = client.get(f"/audit/?server={server.id}&action=scp.call").content.decode()
    assert page.count('href="/audit/events/') >= reads.filter(target=server.id).count() > 0
    assert '<datalist id="audit-actions">' in page and '<option value="interface_request.submitted">' in page


def test_a_pages_scp_reads_fold_into_one_row_under_the_page_that_made_them(client, auditor, requester, sim, world):
    server = world.servers["web-01"]
    client.force_login(requester)
    assert client.get(f"/servers/{server.id}/").status_code == 200
    reads = AuditEvent.objects.filter(action="scp.call", actor_name="requester")
    assert reads.count() >= 2 and {r.payload["caused_by"] for r in reads} == {f"GET /servers/{server.id}/"}
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert page.count('<tr class="reads">') == 1
    assert f"{reads.count()} SCP reads for GET /servers/{server.id}/ by requester" in page
    assert all(f'href="/audit/events/{r.seq}/"' in page for r in reads)  # each still one click away


def test_the_action_filter_takes_a_prefix_or_a_category(events):
    events(30)

    def actions(text: str) -> set[str]:
        return set(EventFilter(action=text).apply(AuditEvent.objects.all()).values_list("action", flat=True))

    assert actions("interface_request") == {"interface_request.submitted"}
    assert actions("auth") == actions("auth.") == {"auth.login"}  # the category, and the prefix
    assert actions("scp") == {"scp.call"} and actions("scp.call") == {"scp.call"}
    assert actions("interface") == set()  # a prefix is a whole word of the action
    from portal.audit.models import Outcome
    from portal.audit.services import record_event

    record_event(action=AuditAction.SCIM_USER_CREATED, outcome=Outcome.SUCCESS)
    assert "scim.user_created" in actions("auth")  # SCIM is in the auth category


def test_filters_survive_opening_an_event_and_a_filtered_swap_moves_the_verify_button(client, auditor, events):
    events(6)
    client.force_login(auditor)
    page = client.get("/audit/?actor=alice").content.decode()
    seq = AuditEvent.objects.filter(actor_name="alice").latest("seq").seq
    assert f'href="/audit/events/{seq}/?actor=alice"' in page
    detail = client.get(f"/audit/events/{seq}/?actor=alice").content.decode()
    assert 'href="/audit/?actor=alice" id="back"' in detail
    swapped = client.get("/audit/?actor=bob", headers={"HX-Request": "true", "HX-Target": "results"}).content.decode()
    assert 'id="verify-form" method="post" action="/audit/verify/?actor=bob" hx-swap-oob="true"' in swapped
    full = client.get("/audit/?actor=bob").content.decode()
    assert full.count('id="verify-form"') == 1 and "hx-swap-oob" not in full
