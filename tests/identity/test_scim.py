"""SCIM 2.0 provisioning, driven over real HTTP with plain requests and the payloads of RFC 7643/7644's examples
(and Entra ID's spelling of them): create, filter, patch membership, deactivate, delete; a deactivated or
ungrouped user's session and token die at once; every change an audit event naming the IdP."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as PortalGroup
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from portal.api.tokens import token_create
from portal.audit.models import AuditEvent
from portal.identity.models import GroupMapping, Identity
from portal.identity.scim.clients import client_add
from portal.teams.models import Team

pytestmark = pytest.mark.postgres  # transactions, locks and cascades: run again on PostgreSQL

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BJENSEN = {  # RFC 7643 §8.1, with RFC 7644 §3.3's externalId
    "schemas": [USER],
    "userName": "bjensen@example.com",
    "externalId": "bjensen",
    "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
}


class Scim:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})

    def close(self) -> None:
        """Close the kept-alive connection: the live server's thread for it holds a database connection until
        then (and PostgreSQL refuses to drop the test database while one is open)."""
        self.http.close()

    def __getattr__(self, verb):
        return lambda path, **kw: self.http.request(verb.upper(), f"{self.base}{path}", timeout=30, **kw)


@pytest.fixture
def scim_with(live_server):
    """A SCIM caller with `token`, against the live portal; each one's connection is closed at teardown."""
    made: list[Scim] = []

    def make(token: str) -> Scim:
        made.append(Scim(f"{live_server.url}/scim/v2", token))
        return made[-1]

    yield make
    for caller in made:
        caller.close()


@pytest.fixture
def scim(scim_with, transactional_db):
    web = Team.objects.create(name="web")
    approvers = PortalGroup.objects.create(name="web-approvers")
    web.approver_groups.add(approvers)
    GroupMapping.objects.create(idp_group="portal-web", team=web, team_role="member")
    GroupMapping.objects.create(idp_group="portal-web-approvers", portal_group=approvers)
    new = client_add(name="okta", issuer="https://idp.example")
    return scim_with(new.secret)


def created(scim, payload=BJENSEN) -> dict:
    response = scim.post("/Users", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def group_with(scim, name: str, *member_ids: str) -> dict:
    payload = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in member_ids]}
    response = scim.post("/Groups", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


def signed_in_session(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def live_token(user) -> str:
    return token_create(user=user, name="t", scopes=["read"], expires_at=timezone.now() + dt.timedelta(days=1)).secret


def api_status(secret: str) -> int:
    return Client().get("/api/v1/servers", headers={"Authorization": f"Bearer {secret}"}).status_code


def test_a_user_is_created_read_and_found_by_filter(scim):
    body = created(scim)
    assert body["userName"] == "bjensen@example.com" and body["active"] is True and body["id"]
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    read = scim.get(f"/Users/{body['id']}")
    assert read.status_code == 200 and read.headers["Content-Type"] == "application/scim+json"
    assert read.json()["name"]["familyName"] == "Jensen"
    found = scim.get("/Users", params={"filter": 'userName eq "BJENSEN@example.com"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == body["id"]
    assert scim.get("/Users", params={"filter": 'userName eq "nobody"'}).json()["totalResults"] == 0
    assert scim.get("/Users", params={"filter": 'name.givenName sw "Barb"'}).json()["totalResults"] == 1
    identity = Identity.objects.get(pk=body["id"])
    assert (identity.issuer, identity.subject) == ("https://idp.example", "bjensen")
    event = AuditEvent.objects.get(action="scim.user_created")
    assert event.payload["idp"] == "okta" and event.payload["after"]["userName"] == "bjensen@example.com"


def test_bad_requests_get_scim_errors_never_a_page(scim):
    user_id = created(scim)["id"]
    again = scim.post("/Users", json={**BJENSEN, "externalId": "other"})
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
    bad_filter = scim.get("/Users", params={"filter": "userName eq "})
    assert bad_filter.status_code == 400 and bad_filter.json()["scimType"] == "invalidFilter"
    assert scim.get("/Users", params={"startIndex": "x"}).status_code == 400
    no_name = scim.post("/Users", json={"schemas": [USER]})
    assert no_name.status_code == 400 and no_name.headers["Content-Type"] == "application/scim+json"
    assert scim.post("/Users", data=b"{not json").status_code == 400
    assert scim.get("/Users/999999").status_code == 404 and scim.get("/Users/abc").status_code == 404
    bad_patch = scim.patch(f"/Users/{user_id}", json={"schemas": [PATCH], "Operations": [{"op": "explode"}]})
    assert bad_patch.status_code == 400 and bad_patch.json()["scimType"] == "invalidValue"
    stranger = {"schemas": [GROUP], "displayName": "g", "members": [{"value": "424242"}]}
    assert scim.post("/Groups", json=stranger).status_code == 400


def test_without_a_valid_token_nothing_answers_and_strangers_are_counted(scim_with, transactional_db, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"anonymous_refusal_limit": 2})
    client_add(name="okta", issuer="https://idp.example")
    stranger = scim_with("scim_00000000_" + "x" * 43)
    answers = [stranger.get("/Users").status_code for _ in range(4)]
    assert answers == [401, 401, 429, 429]
    assert AuditEvent.objects.filter(action="scim.refused").count() == 1
    assert stranger.get("/ServiceProviderConfig").status_code == 429


def test_discovery_describes_what_is_served(scim):
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True and config["bulk"]["supported"] is False
    types = scim.get("/ResourceTypes").json()
    assert {t["endpoint"] for t in types["Resources"]} == {"/Users", "/Groups"}


def test_group_membership_drives_the_mappings_and_leaving_the_last_group_revokes(scim):
    user_id = created(scim)["id"]
    group = group_with(scim, "portal-web", user_id)
    approvers = group_with(scim, "portal-web-approvers")
    bjensen = Identity.objects.get(pk=user_id).user
    assert list(bjensen.teams.values_list("name", flat=True)) == ["web"]

    add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]}
    assert scim.patch(f"/Groups/{approvers['id']}", json=add).status_code == 200
    assert list(bjensen.groups.values_list("name", flat=True)) == ["web-approvers"]
    change = AuditEvent.objects.filter(action="scim.group_changed").last()
    assert change.payload["grants"][bjensen.username]["after"]["groups"] == ["web-approvers"]

    browser, secret = signed_in_session(bjensen), live_token(bjensen)
    for leaving in (approvers, group):  # RFC 7644 §3.5.2.2's removal of one member
        remove = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{user_id}"]'}]}
        assert scim.patch(f"/Groups/{leaving['id']}", json=remove).status_code == 200
    assert not bjensen.teams.exists() and not bjensen.groups.exists()
    assert browser.get("/servers/").status_code == 302 and api_status(secret) == 401
    revoked = AuditEvent.objects.get(action="auth.access_revoked")
    assert revoked.payload["reason"] == "no mapped IdP group" and revoked.payload["idp"] == "okta"


def test_deactivating_ends_the_users_session_and_token_at_once(scim):
    user_id = created(scim)["id"]
    group_with(scim, "portal-web", user_id)
    bjensen = Identity.objects.get(pk=user_id).user
    browser, secret = signed_in_session(bjensen), live_token(bjensen)
    assert browser.get("/servers/").status_code == 200 and api_status(secret) == 200
    entra = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    answer = scim.patch(f"/Users/{user_id}", json=entra)
    assert answer.status_code == 200 and answer.json()["active"] is False
    assert browser.get("/servers/").status_code == 302 and api_status(secret) == 401
    assert AuditEvent.objects.get(action="auth.access_revoked").payload["reason"] == "account deactivated"
    change = AuditEvent.objects.get(action="scim.user_changed")
    assert change.payload["before"] == {"active": True} and change.payload["after"] == {"active": False}
    filtered = scim.get("/Users", params={"filter": "active eq false"}).json()
    assert [r["id"] for r in filtered["Resources"]] == [user_id]


def test_deleting_a_user_deprovisions_it_and_the_log_still_verifies(scim):
    user_id = created(scim)["id"]
    group = group_with(scim, "portal-web", user_id)
    bjensen = Identity.objects.get(pk=user_id).user
    browser = signed_in_session(bjensen)
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    assert scim.get(f"/Users/{user_id}").status_code == 404
    bjensen.refresh_from_db()
    assert not bjensen.is_active and not bjensen.teams.exists() and browser.get("/servers/").status_code == 302
    assert scim.get(f"/Groups/{group['id']}").json().get("members") is None
    assert AuditEvent.objects.get(action="scim.user_deleted").payload["grants_removed"]["member_of"] == ["web"]
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    out = io.StringIO()
    call_command("audit_verify", stdout=out, stderr=io.StringIO())
    assert "verified" in out.getvalue().lower()


def test_a_replaced_user_and_a_renamed_group_apply(scim):
    user_id = created(scim)["id"]
    group = group_with(scim, "marketing", user_id)
    bjensen = Identity.objects.get(pk=user_id).user
    assert not bjensen.teams.exists()
    rename = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "portal-web"}]}
    assert scim.patch(f"/Groups/{group['id']}", json=rename).json()["displayName"] == "portal-web"
    assert list(bjensen.teams.values_list("name", flat=True)) == ["web"]
    put = {**BJENSEN, "name": {"givenName": "Babs", "familyName": "Jensen"}, "emails": [{"value": "babs@example.com"}]}
    assert scim.put(f"/Users/{user_id}", json=put).status_code == 200
    bjensen.refresh_from_db()
    assert (bjensen.first_name, bjensen.email) == ("Babs", "babs@example.com")
    assert get_user_model().objects.filter(username__startswith="bjensen").count() == 1


def test_a_provisioned_user_signs_in_through_the_idp_as_the_same_account(sso, scim_with):
    from tests.identity.test_sso import sign_in, signed_in_as

    scim = scim_with(client_add(name="test-idp", issuer=sso.url).secret)
    user_id = created(scim, {"schemas": [USER], "userName": "alice@example.com", "externalId": "alice"})["id"]
    browser = Client()
    assert sign_in(browser, sso, "alice").status_code == 302
    assert signed_in_as(browser) == Identity.objects.get(pk=user_id).user.username
    assert Identity.objects.filter(subject="alice").count() == 1


def test_one_idps_token_reaches_none_of_another_idps_users_or_groups(scim, scim_with):
    user_id = created(scim)["id"]
    group_id = group_with(scim, "portal-web", user_id)["id"]
    other = scim_with(client_add(name="entra", issuer="https://login.example").secret)
    assert other.get("/Users").json()["totalResults"] == 0
    assert other.get("/Users", params={"filter": 'userName eq "bjensen@example.com"'}).json()["totalResults"] == 0
    assert other.get("/Groups").json()["totalResults"] == 0
    for path in (f"/Users/{user_id}", f"/Groups/{group_id}"):
        assert other.get(path).status_code == 404
        assert other.delete(path).status_code == 404
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert other.patch(f"/Users/{user_id}", json=deactivate).status_code == 404
    adopt = {"schemas": [GROUP], "displayName": "portal-web", "members": [{"value": user_id}]}
    assert other.post("/Groups", json=adopt).status_code == 400  # not a user of this IdP
    assert Identity.objects.get(pk=user_id).user.is_active
