"""/healthz, /readyz and /metrics: what an operator's probes and Prometheus read."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from portal.core import health
from portal.core.models import Heartbeat

pytestmark = pytest.mark.postgres  # the scrape's fold locks its cursor row


@pytest.fixture(autouse=True)
def _fresh_probe():
    health._probe = None
    yield
    health._probe = None


def beat(name: str, seconds_ago: float = 0) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now() - dt.timedelta(seconds=seconds_ago)}
    )


def test_healthz_answers_whatever_the_host_header(client):
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_names_each_check_and_is_not_ready_until_worker_and_scheduler_beat(client, db, sim):
    response = client.get("/readyz", HTTP_HOST="10.1.2.3:8000")  # a probe by address, not by the portal's name
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert set(body["checks"]) == {
        "database",
        "migrations",
        "worker",
        "scheduler",
        "scp",
        "audit_head",
        "effects",
        "witnesses",
        "streams",
    }
    assert body["checks"]["effects"] == {"ok": True, "detail": "0 pending (0 failing), 0 given up; oldest 0 s"}
    assert body["checks"]["witnesses"] == {"ok": True, "detail": "none configured"}
    assert body["checks"]["streams"] == {"ok": True, "detail": "none configured"}
    assert body["checks"]["worker"] == {"ok": False, "detail": "no heartbeat from the worker yet"}
    assert body["checks"]["database"]["ok"] and body["checks"]["scp"]["ok"] and body["checks"]["audit_head"]["ok"]
    beat("worker")
    beat("scheduler")
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready"


def test_readyz_says_which_heartbeat_is_stale(client, db, sim, settings):
    beat("worker", seconds_ago=settings.CONFIG.heartbeat_max_age + 60)
    beat("scheduler")
    checks = client.get("/readyz").json()["checks"]
    assert not checks["worker"]["ok"] and "limit" in checks["worker"]["detail"] and checks["scheduler"]["ok"]


def test_readyz_reports_scp_unreachable_without_leaking_a_secret(client, db, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"scp_virtualserver_url": "http://127.0.0.1:9/virtualserver"})
    beat("worker")
    beat("scheduler")
    response = client.get("/readyz")
    assert response.status_code == 503
    scp = response.json()["checks"]["scp"]
    assert scp["ok"] is False and "ScpNotSent" in scp["detail"]
    assert settings.CONFIG.scp_secret_key.get_secret_value() not in response.text


def test_the_scp_probe_is_cached_so_probes_never_load_scp(client, db, sim):
    client.get("/readyz")
    client.get("/readyz")
    client.get("/readyz")
    assert len([r for r in sim.requests() if r["path"] == "/"]) == 1


def test_metrics_refuses_other_networks_and_accepts_the_bearer_token(client, db, settings):
    from pydantic import SecretStr

    assert client.get("/metrics", REMOTE_ADDR="10.9.8.7").status_code == 403
    settings.CONFIG = settings.CONFIG.model_copy(update={"metrics_token": SecretStr("scrape-token-0123456789")})
    assert client.get("/metrics", REMOTE_ADDR="10.9.8.7", HTTP_AUTHORIZATION="Bearer nope").status_code == 403
    ok = client.get("/metrics", REMOTE_ADDR="10.9.8.7", HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain")
    settings.CONFIG = settings.CONFIG.model_copy(update={"metrics_allowed_networks": ["10.0.0.0/8"]})
    assert client.get("/metrics", REMOTE_ADDR="10.9.8.7").status_code == 200


def scrape(client) -> dict[str, list]:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples, name: str, **labels) -> float:
    matching = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matching) == 1, (name, labels, samples.get(name))
    return matching[0]


def test_metrics_count_an_attach_its_scp_calls_and_latency(client, sim, world, submit):
    before = scrape(client)
    request = submit(server_id=world.servers["web-01"].id, mode="port", port_id=world.spare_port().id)
    assert request.status == "succeeded"
    after = scrape(client)
    assert value(after, "portal_interface_requests", state="succeeded") == 1
    assert value(after, "portal_interface_requests", state="failed") == 0
    posts = {"service": "virtualserver", "endpoint": "/v1/servers/{id}/interfaces", "method": "POST", "status": "200"}
    assert value(after, "portal_scp_calls_total", **posts) == 1
    hist = {k: v for k, v in posts.items() if k != "status"}
    assert value(after, "portal_scp_call_duration_seconds_count", **hist) == 1
    assert value(after, "portal_scp_call_duration_seconds_bucket", le="+Inf", **hist) == 1
    assert 0 < value(after, "portal_scp_call_duration_seconds_sum", **hist) < 30
    gets = [s for s in after["portal_scp_calls_total"] if s.labels["method"] == "GET"]
    assert gets and all("{id}" in s.labels["endpoint"] or s.labels["endpoint"].count("/") <= 2 for s in gets)
    assert value(after, "portal_audit_events_total") > value(before, "portal_audit_events_total")
    assert value(scrape(client), "portal_scp_calls_total", **posts) == 1  # a scrape folds each event once
    assert "portal_task_queue_depth" in after and "portal_task_oldest_age_seconds" in after


def test_metrics_count_refusals_by_action(client, sim, world, requester, other_requester, submit):
    request = submit(server_id=world.servers["web-01"].id, mode="port", port_id=world.spare_port().id)
    client.force_login(other_requester)
    assert client.get(f"/requests/{request.pk}/").status_code == 404
    samples = scrape(client)
    assert value(samples, "portal_refusals_total", action="interface_request.access") == 1


def test_metrics_count_reconciliations_by_outcome(client, sim, world, submit):
    sim.faults(drop_after_apply_rate=1.0)
    request = submit(server_id=world.servers["web-01"].id, mode="port", port_id=world.spare_port().id)
    assert request.status == "succeeded"  # the answer was lost; reconciliation found the interface
    assert value(scrape(client), "portal_reconciliations_total", outcome="success") == 1


def test_endpoint_labels_never_carry_ids():
    from portal.core.metrics import endpoint_of

    assert (
        endpoint_of("http://h/virtualserver/v1/servers/abc-123/interfaces/p-9?x=1")
        == "/v1/servers/{id}/interfaces/{id}"
    )
    assert endpoint_of("http://h/vpc/v1/ports/port-ip-availabilities?subnet_id=s") == "/v1/ports/port-ip-availabilities"
    assert endpoint_of("http://h/virtualserver/") == "/"


def test_readyz_json_has_no_traceback_when_a_check_raises(client, db, monkeypatch):
    def boom():
        raise RuntimeError("secret internals")

    monkeypatch.setitem(health.CHECKS, "audit_head", boom)
    body = json.loads(client.get("/readyz").content)
    assert body["checks"]["audit_head"] == {"ok": False, "detail": "RuntimeError"}


def test_a_large_backlog_is_folded_over_several_scrapes(client, sim, world, submit, monkeypatch):
    from portal.core import metrics

    monkeypatch.setattr(metrics, "FOLD_LIMIT", 3)
    submit(server_id=world.servers["web-01"].id, mode="port", port_id=world.spare_port().id)
    posts = {"endpoint": "/v1/servers/{id}/interfaces", "method": "POST"}
    seen = []
    for _ in range(100):
        samples = scrape(client)
        seen.append(
            sum(
                s.value
                for s in samples.get("portal_scp_calls_total", [])
                if all(s.labels.get(k) == v for k, v in posts.items())
            )
        )
        if metrics.metrics_fold() == 0 and seen[-1] == 1:
            break
    assert seen[0] == 0 and seen[-1] == 1  # caught up, three events a scrape, without counting twice


def test_readyz_gives_details_to_operators_only(client, db, sim, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"scp_virtualserver_url": "http://127.0.0.1:9/virtualserver"})
    outside = client.get("/readyz", REMOTE_ADDR="203.0.113.5")
    assert outside.status_code == 503
    assert outside.json()["checks"]["scp"] == {"ok": False} and "127.0.0.1:9" not in outside.text
    inside = client.get("/readyz", REMOTE_ADDR="127.0.0.1")
    assert "ScpNotSent" in inside.json()["checks"]["scp"]["detail"]


def test_the_grafana_dashboard_asks_only_for_metrics_the_portal_exports(client, sim, world, submit):
    """portal/core/dashboards/grafana.json: every series a panel queries is one /metrics serves, with the labels
    the panel groups by (an attach first, so that the SCP call and request series exist)."""
    from tests.conftest import ROOT

    submit(server_id=world.servers["web-01"].id, mode="port", port_id=world.spare_port().id)
    exported = scrape(client)
    # A counter nothing has counted yet (reconciliations on a quiet day) has no samples: its family must at least be
    # one the portal declares.
    code = "".join(p.read_text() for p in (ROOT / "portal").rglob("metrics.py"))
    declared = set(re.findall(r'MetricFamily\(\s*"(portal_[a-z_]+)"', code))
    dashboard = json.loads((ROOT / "portal/core/dashboards/grafana.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        for name in re.findall(r"\b(portal_[a-z_]+)", expr):
            family = re.sub(r"_(total|bucket|count|sum)$", "", name)
            assert name in exported or family in declared, f"{name} (in {expr!r}) is not in /metrics"
            grouped = re.search(r"by \(([^)]*)\)", expr)
            labels = {label.strip() for label in grouped.group(1).split(",")} - {"le"} if grouped else set()
            samples = exported.get(name, [])
            assert not samples or all(label in samples[0].labels for label in labels), (name, labels, samples[0])
