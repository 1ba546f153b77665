"""The audit page's chart: matching events per hour for the last day, within the viewer's scope and filters."""

import datetime as dt
import re

from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.audit.selectors import EventFilter, events_per_hour
from portal.audit.services import record_events_bulk


def test_events_are_counted_in_their_hour_and_nothing_outside_the_day(db):
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    record_events_bulk(
        [
            {"action": "auth.login", "outcome": "success", "created_at": hour - dt.timedelta(hours=2, minutes=-5)},
            {"action": "auth.login", "outcome": "success", "created_at": hour - dt.timedelta(hours=2, minutes=-6)},
            {"action": "auth.logout", "outcome": "success", "created_at": hour + dt.timedelta(minutes=1)},
            {"action": "auth.login", "outcome": "success", "created_at": hour - dt.timedelta(hours=30)},
        ]
    )
    bars = events_per_hour(filters=EventFilter(), now=now)
    assert len(bars) == 24 and bars[-1].start == hour.astimezone(dt.UTC)
    assert bars[-3].count == 2 and bars[-3].height == 1.0 and bars[-1].count == 1 and bars[-1].height == 0.5
    assert sum(b.count for b in bars) == 3  # the event of 30 hours ago is outside the chart
    assert sum(b.count for b in events_per_hour(filters=EventFilter(action="auth.logout"), now=now)) == 1


def test_the_page_draws_the_chart_within_the_viewers_scope(client, auditor, requester, sim, world, submit):
    server, subnet = world.servers["web-01"], world.subnets["prod-app"]
    submit(justification="chart", server_id=server.id, mode="subnet", subnet_id=subnet.id)
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert 'id="events-chart"' in page
    titles = [int(n) for n in re.findall(r"<title>[^<]*: (\d+)</title>", page)]
    assert (
        len(titles) == 24
        and sum(titles) == AuditEvent.objects.filter(created_at__gte=timezone.now() - dt.timedelta(hours=24)).count()
    )
    scoped = client.get("/audit/", {"action": "interface_request.submitted"}).content.decode()
    assert sum(int(n) for n in re.findall(r"<title>[^<]*: (\d+)</title>", scoped)) == 1


def test_a_team_auditor_charts_only_its_teams_events(client, requester, sim, world, submit, django_user_model):
    from portal.teams.models import Team

    server, subnet = world.servers["web-01"], world.subnets["prod-app"]
    submit(justification="chart", server_id=server.id, mode="subnet", subnet_id=subnet.id)
    quiet = Team.objects.create(name="quiet")
    watcher = django_user_model.objects.create_user("watcher", password="x-pass-2026-long")
    quiet.auditors.add(watcher)
    client.force_login(watcher)
    page = client.get("/audit/").content.decode()
    counts = [int(n) for n in re.findall(r"<title>[^<]*: (\d+)</title>", page)]
    assert len(counts) == 24 and sum(counts) == 0  # the platform team's request is not theirs to count
