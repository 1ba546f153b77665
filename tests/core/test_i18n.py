"""Korean and English: the language follows the saved preference, then the switcher, then the browser; SCP is
asked in the reader's language and the audit log keeps its exact text and the language asked for."""

import uuid

from django.core import mail

from portal.audit.models import AuditEvent
from portal.identity.models import Preferences
from portal.interfaces.models import Status


def test_the_browser_language_is_followed_before_sign_in(client):
    page = client.get("/accounts/login/", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}).content.decode()
    assert '<html lang="ko">' in page and "사용자 이름" in page and "비밀번호" in page
    page = client.get("/accounts/login/", headers={"Accept-Language": "en-US"}).content.decode()
    assert '<html lang="en">' in page and "Username" in page


def test_the_switcher_saves_the_choice_and_it_beats_the_browser(requester, requester_client):
    response = requester_client.post("/language/", {"language": "ko", "next": "/servers/"})
    assert response.status_code == 302 and response["Location"] == "/servers/"
    assert Preferences.objects.get(user=requester).language == "ko"
    del requester_client.cookies["portal_language"]  # another browser: the saved preference still holds
    page = requester_client.get("/requests/", headers={"Accept-Language": "en-US"}).content.decode()
    assert "<h1>내 요청</h1>" in page
    event = AuditEvent.objects.get(action="account.preferences_changed")
    assert event.payload == {"language": {"from": "", "to": "ko"}}


def test_the_switcher_returns_to_the_page_it_was_used_on(client):
    response = client.post("/language/", {"language": "ko"}, headers={"Referer": "http://testserver/servers/?q=web"})
    assert response["Location"] == "http://testserver/servers/?q=web"


def test_the_switcher_never_redirects_off_the_portal(client):
    response = client.post("/language/", {"language": "ko", "next": "https://evil.example/"})
    assert response["Location"] == "/" and response.cookies["portal_language"].value == "ko"
    assert client.post("/language/", {"language": "xx"})["Location"] == "/"  # an unknown language changes nothing


def test_form_errors_come_in_korean(sim, world, requester, requester_client):
    Preferences.objects.create(user=requester, language="ko")
    page = requester_client.post(
        f"/servers/{world.servers['web-01'].id}/attach/",
        {
            "action": "preview",
            "mode": "subnet",
            "subnet_id": world.subnets["prod-app"].id,
            "justification": "",
            "idempotency_key": str(uuid.uuid4()),
            "fixed_ip": ["10.9.9.9"],
        },
    ).content.decode()
    assert "이 인터페이스가 필요한 이유를 입력하세요." in page
    page = requester_client.post(
        f"/servers/{world.servers['web-01'].id}/attach/",
        {
            "action": "preview",
            "mode": "subnet",
            "subnet_id": world.subnets["prod-app"].id,
            "justification": "백업",
            "idempotency_key": str(uuid.uuid4()),
            "fixed_ip": ["10.9.9.9"],
        },
    ).content.decode()
    assert "10.9.9.9은(는) 서브넷 192.168.10.0/24 밖에 있습니다." in page


def test_scp_answers_in_the_requesters_language_and_the_audit_keeps_its_exact_text(sim, world, requester, submit):
    Preferences.objects.create(user=requester, language="ko")
    sim.faults(conflict_rate=1.0)  # SCP refuses the POST with its transient 409
    request = submit(
        justification="한국어",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-app"].id,
    )
    assert request.status == Status.FAILED
    korean = "서버가 다른 작업을 처리하고 있습니다. 잠시 후 다시 시도하세요. (server is busy; try again)"
    assert request.status_reason == f"SCP가 충돌을 보고했으며 아무것도 연결하지 않았습니다: {korean}"
    post = AuditEvent.objects.filter(action="scp.call", payload__method="POST").get()
    assert post.payload["accept_language"] == "ko-KR" and post.payload["error_detail"] == korean
    assert [r["status"] for r in sim.attach_posts()] == [409]
    assert mail.outbox[-1].subject == f"요청 {request.pk}: 실패"


def test_an_english_reader_asks_scp_in_english(sim, world, submit):
    sim.faults(conflict_rate=1.0)
    request = submit(
        justification="English",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-app"].id,
    )
    assert request.status_reason == "SCP reported a conflict and attached nothing: server is busy; try again"
    post = AuditEvent.objects.filter(action="scp.call", payload__method="POST").get()
    assert post.payload["accept_language"] == "en-US"


def test_the_admin_names_the_portals_models_and_columns_in_korean(admin_client):
    index = admin_client.get("/admin/", headers={"Accept-Language": "ko"}).content.decode()
    for name in ("인터페이스 요청", "승인 정책", "API 토큰", "IdP 그룹 매핑", "팀"):  # the audit log is for auditors
        assert name in index, name
    from portal.teams.models import Team

    Team.objects.create(name="platform")
    changelist = admin_client.get("/admin/teams/team/", headers={"Accept-Language": "ko"}).content.decode()
    assert ">이름</a>" in changelist and "platform" in changelist
