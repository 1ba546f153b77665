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
    assert options[:2] == ["", "Asia/Seoul"] and "UTC" not in options  # UTC is the default; Seoul first in Korean
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
