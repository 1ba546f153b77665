"""Two teams as seed_demo makes them: `web` owns web-*, `apps` owns app-* and dev-*; each has its people."""

import os
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group

from portal.interfaces import services
from portal.teams.models import ServerOwnership, Team


@dataclass
class Org:
    web: Team
    apps: Team
    users: dict


def make_user(django_user_model, username, *, groups=(), member_of=(), audits=()):
    user = django_user_model.objects.create_user(
        username=username, password=os.environ["DEMO_PASSWORD"], email=f"{username}@example.com"
    )
    user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
    user.teams.set(member_of)
    user.audited_teams.set(audits)
    return user


@pytest.fixture
def org(db, django_user_model, settings) -> Org:
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "team"})
    web, apps = Team.objects.create(name="web"), Team.objects.create(name="apps")
    ServerOwnership.objects.create(team=web, kind="name_pattern", value="web-*")
    ServerOwnership.objects.create(team=apps, kind="name_pattern", value="app-*")
    ServerOwnership.objects.create(team=apps, kind="name_pattern", value="dev-*")
    web.approver_groups.add(Group.objects.get_or_create(name="web-approvers")[0])
    apps.approver_groups.add(Group.objects.get_or_create(name="apps-approvers")[0])
    users = {
        "web_req": make_user(django_user_model, "web-req", member_of=[web]),
        "web_appr": make_user(django_user_model, "web-appr", groups=["web-approvers"], member_of=[web]),
        "web_aud": make_user(django_user_model, "web-aud", audits=[web]),
        "apps_req": make_user(django_user_model, "apps-req", member_of=[apps]),
        "apps_appr": make_user(django_user_model, "apps-appr", groups=["apps-approvers"], member_of=[apps]),
        "apps_aud": make_user(django_user_model, "apps-aud", audits=[apps]),
        "global_aud": make_user(django_user_model, "global-aud", groups=["auditor"]),
        "nobody": make_user(django_user_model, "nobody"),
    }
    return Org(web, apps, users)


SECRET_JUSTIFICATION = "WEB-TEAM-ONLY justification 7f3a"
FIXED_IP = "192.168.20.77"


@pytest.fixture
def web_request(org, sim, world):
    """A pending request of the web team's requester, with a fixed IP and a justification only they may read."""
    return services.interface_request_submit(
        requester=org.users["web_req"],
        idempotency_key=uuid.uuid4(),
        justification=SECRET_JUSTIFICATION,
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-db"].id,
        fixed_ips=[FIXED_IP],
    )
