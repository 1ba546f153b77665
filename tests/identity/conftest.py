import pytest
from django.contrib.auth.models import Group
from pydantic import SecretStr

from portal.identity import oidc
from portal.identity.models import GroupMapping
from portal.teams.models import ServerOwnership, Team
from tests.idp import CLIENT_SECRET, idp  # noqa: F401  (the session's IdP process)


@pytest.fixture
def sso(settings, idp, db):  # noqa: F811
    """The portal signs in through the test IdP; IdP groups map to the web and apps teams."""
    settings.CONFIG = settings.CONFIG.model_copy(
        update={"oidc_issuer": idp.url, "oidc_client_id": "portal", "oidc_client_secret": SecretStr(CLIENT_SECRET)}
    )
    oidc._discovery.clear()
    web, apps = Team.objects.create(name="web"), Team.objects.create(name="apps")
    ServerOwnership.objects.create(team=web, kind="name_pattern", value="web-*")
    ServerOwnership.objects.create(team=apps, kind="name_pattern", value="app-*")
    web_approvers = Group.objects.create(name="web-approvers")
    web.approver_groups.add(web_approvers)
    GroupMapping.objects.create(idp_group="portal-web", team=web, team_role="member")
    GroupMapping.objects.create(idp_group="portal-web-approvers", portal_group=web_approvers)
    GroupMapping.objects.create(idp_group="portal-apps", team=apps, team_role="member")
    GroupMapping.objects.create(idp_group="portal-apps-audit", team=apps, team_role="auditor")
    idp.set_users(
        {
            "alice": {"email": "alice@example.com", "groups": ["portal-web", "portal-web-approvers", "unrelated"]},
            "bob": {"email": "bob@example.com", "groups": ["portal-apps"]},
            "carol": {"email": "carol@example.com", "groups": ["marketing"]},
        }
    )
    idp.set_mischief()
    yield idp
    idp.set_mischief()
    idp.browsers.clear()
    oidc._discovery.clear()
