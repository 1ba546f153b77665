"""A requester reads their preview and timeline in words: codes, ids and JSON stay in the exact-call section and
the tooltips (the audit log keeps them all)."""

import re


def visible(page: str) -> str:
    """The page's text outside tooltips, the exact-call section and the markup."""
    page = re.sub(r'<details class="exact-call">.*?</details>', "", page, flags=re.S)
    page = re.sub(r'title="[^"]*"', "", page)
    return re.sub(r"<[^>]+>", " ", page)


def test_the_request_page_reads_in_words(sim, world, requester_client, submit):
    server, subnet = world.servers["web-01"], world.subnets["prod-app"]
    request = submit(
        justification="words", server_id=server.id, mode="subnet", subnet_id=subnet.id, fixed_ips=["192.168.10.51"]
    )
    page = requester_client.get(f"/requests/{request.pk}/").content.decode()
    text = visible(page)
    for phrase in (
        "Submitted",
        "Approved automatically by policy",
        "The portal started carrying it out",
        "Sending the attach to SCP",
        "Sent to SCP (answered 200",
        "Done",
    ):
        assert phrase in text, phrase
    assert f"a new port on prod-app ({subnet.cidr}, gateway {subnet.gateway_ip_address}) with 192.168.10.51" in text
    assert "interface_request." not in text and "scp.call" not in text
    assert server.id not in text and '"subnet_id"' not in text
    assert 'title="interface_request.submitted"' in page  # the code is still there for whoever needs it
    assert f"POST /v1/servers/{server.id}/interfaces" in page  # in the exact-call section


def test_the_preview_says_what_will_happen_before_the_exact_call(sim, world, requester_client):
    server, subnet = world.servers["web-01"], world.subnets["prod-app"]
    form = requester_client.get(f"/servers/{server.id}/attach/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    page = requester_client.post(
        f"/servers/{server.id}/attach/",
        {
            "action": "preview",
            "mode": "subnet",
            "subnet_id": subnet.id,
            "justification": "words",
            "idempotency_key": key,
        },
    ).content.decode()
    text = visible(page)
    gateway = subnet.gateway_ip_address
    assert f"a new port on prod-app ({subnet.cidr}, gateway {gateway}); SCP assigns the address" in text
    assert '"subnet_id"' not in text and '"subnet_id"' in page


def test_the_attach_form_has_one_source_for_its_labels_widgets_and_help(sim, world, requester_client):
    """attach.html renders AttachForm's fields; it writes none of their labels, help texts or widgets itself."""
    from pathlib import Path

    from django.conf import settings
    from django.utils.html import escape

    from portal.interfaces.forms import AttachForm

    source = (Path(settings.BASE_DIR) / "templates/interfaces/attach.html").read_text()
    form = AttachForm()
    for name in ("mode", "subnet_id", "port_id", "justification"):
        field = form.fields[name]
        assert f">{field.label}<" not in source and f"> {field.label}<" not in source, name
        assert not field.help_text or str(field.help_text) not in source, name
        assert f'name="{name}"' not in source, name  # the widget comes from the form
    page = requester_client.get(f"/servers/{world.servers['web-01'].id}/attach/").content.decode()
    for name in ("subnet_id", "port_id", "justification"):
        assert f'<label for="id_{name}">{escape(form.fields[name].label)}</label>' in page, name
    assert 'aria-describedby="id_justification_helptext"' in page and 'maxlength="1000"' in page
    assert 'name="mode" value="subnet"' in page and "checked" in page


def test_a_run_of_identical_reads_is_one_line_of_the_timeline(sim, world, requester_client, submit):
    from portal.audit.models import AuditEvent

    server, subnet = world.servers["web-01"], world.subnets["prod-app"]
    request = submit(justification="reads", server_id=server.id, mode="subnet", subnet_id=subnet.id)
    reads = AuditEvent.objects.filter(interface_request_id=request.pk, action="scp.call", payload__method="GET")
    assert reads.count() >= 2, "the poll took one read: nothing to fold"
    text = visible(requester_client.get(f"/requests/{request.pk}/").content.decode())
    lines = re.findall(r"Read from SCP[^\n<]*", text)
    assert lines, text
    folded = [int(n) for n in re.findall(r"Read from SCP (\d+) times \(answered 200", text)]
    singles = len([line for line in lines if line.startswith("Read from SCP (answered")])
    assert folded and sum(folded) + singles == reads.count(), lines  # every read is on a line, runs folded
    assert len(lines) < reads.count()
    assert reads.count() == AuditEvent.objects.filter(pk__in=reads.values("pk")).count()  # all kept in the log
