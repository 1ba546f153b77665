"""A requester sees, searches, opens and requests only the servers their teams own."""

import re
import uuid

import pytest

from portal.interfaces import services
from portal.interfaces.errors import NotAllowed
from portal.interfaces.selectors import server_list
from portal.teams.models import ServerOwnership
from portal.teams.scope import Rules


def names(page_html: str) -> set[str]:
    return set(re.findall(r">((?:web|app|dev)-\d\d)<", page_html))


def test_each_team_sees_only_its_servers_in_the_list_and_search(client, org, sim, world):
    client.force_login(org.users["web_req"])
    assert names(client.get("/servers/").content.decode()) == {n for n in world.servers if n.startswith("web-")}
    assert names(client.get("/servers/?q=app").content.decode()) == set()
    client.force_login(org.users["apps_req"])
    listed = names(client.get("/servers/").content.decode())
    assert listed == {n for n in world.servers if n.startswith(("app-", "dev-"))}


def test_a_member_of_no_team_sees_no_servers_and_is_told_why(client, org, sim):
    client.force_login(org.users["nobody"])
    body = client.get("/servers/").content.decode()
    assert names(body) == set() and "not a member of any team" in body


def test_ownership_by_vpc_and_by_server_id(org, sim, world):
    user = org.users["web_req"]
    ServerOwnership.objects.create(team=org.web, kind="server", value=world.servers["app-02"].id)
    page = server_list(user=user)
    assert "app-02" in {s.name for s in page.servers} and "app-05" not in {s.name for s in page.servers}
    ServerOwnership.objects.create(team=org.web, kind="vpc", value=world.servers["dev-03"].vpc_id)
    user = type(user).objects.get(pk=user.pk)  # a new request: the scope is read afresh
    listed = {s.name for s in server_list(user=user).servers}
    assert {"dev-03", "dev-06", "app-02", "web-01"} <= listed and "app-05" not in listed


def test_scoped_paging_visits_every_owned_server_once(org, sim, world):
    """Pages are filled from SCP's list by reading past other teams' servers; no server is skipped or repeated."""
    user = org.users["apps_req"]
    ServerOwnership.objects.create(team=org.apps, kind="name_pattern", value="web-1*")
    import portal.interfaces.selectors as selectors

    seen, marker = [], ""
    original = selectors.SERVER_PAGE_SIZE
    selectors.SERVER_PAGE_SIZE = 3
    try:
        while True:
            page = server_list(user=user, marker=marker)
            seen += [s.name for s in page.servers]
            if not page.next_marker:
                break
            marker = page.next_marker
    finally:
        selectors.SERVER_PAGE_SIZE = original
    expected = {n for n in world.servers if n.startswith(("app-", "dev-", "web-1"))}
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))


def test_another_teams_server_cannot_be_requested_even_by_the_service(org, sim, world):
    with pytest.raises(Exception) as raised:
        services.interface_request_submit(
            requester=org.users["apps_req"],
            idempotency_key=uuid.uuid4(),
            justification="x",
            server_id=world.servers["web-01"].id,
            mode="port",
            port_id=world.spare_port().id,
        )
    assert raised.type.__name__ == "NotFound" or isinstance(raised.value, NotAllowed)


def test_the_request_belongs_to_the_requesters_team(org, sim, world):
    request = services.interface_request_submit(
        requester=org.users["web_req"],
        idempotency_key=uuid.uuid4(),
        justification="x",
        server_id=world.servers["web-01"].id,
        mode="port",
        port_id=world.spare_port().id,
    )
    assert request.team == org.web and request.approval_steps == [{"groups": ["web-approvers"], "required": 1}]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (Rules(vpc_ids=frozenset({"v1"})), {"vpc_id": "v1"}),
        (Rules(patterns=("web-*",)), {"name": "web-"}),
        (Rules(patterns=("*-db-??",)), {"name": "-db-"}),
        (Rules(patterns=("a*", "b*")), {}),
        (Rules(vpc_ids=frozenset({"v1"}), server_ids=frozenset({"s"})), {}),
    ],
)
def test_rules_narrow_scps_list_only_where_every_owned_server_passes(rules, expected):
    assert rules.upstream_filter() == expected


def _walk(user, page_size: int, **filters) -> list[str]:
    import portal.interfaces.selectors as selectors

    seen, marker = [], ""
    original = selectors.SERVER_PAGE_SIZE
    selectors.SERVER_PAGE_SIZE = page_size
    try:
        for _ in range(50):
            page = server_list(user=user, marker=marker, **filters)
            seen += [s.name for s in page.servers]
            if not page.next_marker:
                return seen
            marker = page.next_marker
    finally:
        selectors.SERVER_PAGE_SIZE = original
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("page_size", [1, 2, 5, 50])
def test_paging_merges_every_kind_of_rule_in_scps_order(org, sim, world, scp, page_size):
    """A VPC, two patterns and listed ids, some overlapping: each owned server once, newest first, like SCP."""
    ServerOwnership.objects.create(team=org.web, kind="vpc", value=world.servers["dev-03"].vpc_id)
    ServerOwnership.objects.create(team=org.web, kind="name_pattern", value="app-0?")
    ServerOwnership.objects.create(team=org.web, kind="server", value=world.servers["app-11"].id)
    ServerOwnership.objects.create(team=org.web, kind="server", value=world.servers["web-01"].id)
    everything = [s for s in scp.iter_servers()]  # SCP's own order
    owned = [s.name for s in everything if s.name.startswith(("web-", "dev-", "app-0")) or s.name == "app-11"]
    assert _walk(org.users["web_req"], page_size) == owned
    active = [s.name for s in everything if s.name in owned and s.state == "ACTIVE"]
    assert _walk(org.users["web_req"], page_size, state="ACTIVE") == active
    assert _walk(org.users["web_req"], page_size, name="dev") == [n for n in owned if "dev" in n]


def test_a_stale_or_edited_marker_starts_again_at_the_first_page(client, org, sim):
    client.force_login(org.users["web_req"])
    for marker in ("not-a-server-id", "a~b~c~d~e", "_~_"):
        response = client.get("/servers/", {"marker": marker})
        assert response.status_code == 200 and "web-01" in response.content.decode(), marker
