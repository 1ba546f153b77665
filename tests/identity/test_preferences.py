"""A user's time zone: saved on the profile page, used for every time shown, UTC on hover."""

import re
import zoneinfo

from portal.audit.models import AuditEvent
from portal.identity.models import Preferences


def test_times_show_in_the_saved_time_zone_with_utc_on_hover(sim, world, requester, requester_client, submit):
    request = submit(
        justification="time zones",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-app"].id,
    )
    utc = request.created_at.strftime("%Y-%m-%d %H:%M:%S")
    page = requester_client.get(f"/requests/{request.pk}/").content.decode()
    assert f'title="{utc} UTC">{utc} UTC</time>' in page  # nothing chosen: UTC

    profile = requester_client.get("/accounts/profile/", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).content
    options = re.findall(r'<option value="([^"]*)"', profile.decode().split('id="id_time_zone"')[1])
    assert options[:3] == ["", "Asia/Seoul", "UTC"]  # in Korean the default is Seoul, and UTC can be chosen
    response = requester_client.post("/accounts/preferences/", {"time_zone": "Asia/Seoul"})
    assert response.status_code == 302
    assert Preferences.objects.get(user=requester).time_zone == "Asia/Seoul"
    event = AuditEvent.objects.get(action="account.preferences_changed")
    assert event.payload == {"time_zone": {"from": "", "to": "Asia/Seoul"}}

    seoul = request.created_at.astimezone(zoneinfo.ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M:%S")
    page = requester_client.get(f"/requests/{request.pk}/").content.decode()
    assert f'title="{utc} UTC">{seoul} KST</time>' in page
    assert f'datetime="{request.created_at.isoformat()}"' in page


def test_an_unknown_time_zone_is_refused_with_a_message_and_nothing_saved(requester, requester_client):
    response = requester_client.post("/accounts/preferences/", {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Preferences.objects.filter(user=requester).exclude(time_zone="").exists()


def test_a_korean_browser_sees_korean_time_until_choosing_a_zone(sim, world, requester, requester_client, submit):
    import datetime as dt

    from django.utils import timezone

    server, subnet = world.servers["web-01"], world.subnets["prod-app"]
    request = submit(justification="zone", server_id=server.id, mode="subnet", subnet_id=subnet.id)
    korean = {"Accept-Language": "ko-KR,ko;q=0.9"}
    page = requester_client.get(f"/requests/{request.pk}/", headers=korean).content.decode()
    seoul = timezone.localtime(request.created_at, dt.timezone(dt.timedelta(hours=9))).strftime("%H:%M")
    assert seoul in page and "KST" in page
    profile = requester_client.get("/accounts/profile/", headers=korean).content.decode()
    assert "Asia/Seoul" in profile.split('id="id_time_zone"')[1].split("</select>")[0]
    requester_client.post("/accounts/preferences/", {"time_zone": "UTC"}, headers=korean)  # chosen: kept
    page = requester_client.get(f"/requests/{request.pk}/", headers=korean).content.decode()
    assert request.created_at.astimezone(dt.UTC).strftime("%H:%M") in page and "KST" not in page
    english = requester_client.get(f"/requests/{request.pk}/").content.decode()
    assert "KST" not in english
