"""Streaming the audit log to a SIEM as OCSF JSON: to a real rsyslog over TLS (RFC 5425), and to an HTTPS-style
JSON-lines endpoint; every event arrives, none twice after a restart, and an outage is caught up afterwards."""

import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from portal.audit.models import AuditEvent, AuditStreamCursor
from portal.audit.ocsf import ocsf_event
from portal.audit.selectors import chain_head
from portal.audit.streams import streams_deliver
from portal.core.health import readiness
from tests.interfaces.test_worker import database_url

ROOT = Path(__file__).resolve().parents[2]
RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def test_events_map_to_ocsf_classes_with_their_ids():
    base = {
        "seq": 7,
        "created_at": "2026-12-07T10:00:00.000000Z",
        "outcome": "success",
        "actor_id": 3,
        "actor_name": "alice",
        "source_ip": "10.0.0.1",
        "user_agent": "curl",
        "correlation_id": "c1",
        "interface_request_id": 9,
        "target": "server-1",
        "payload": {},
        "prev_hash": "0" * 64,
        "hash": "a" * 64,
    }
    cases = {
        "auth.login": (3002, 1),
        "auth.logout": (3002, 2),
        "auth.login_failed": (3002, 1),
        "api_token.created": (3001, 99),
        "admin.team.changed": (3001, 99),
        "auth.password_changed": (3001, 3),
        "scim.user_deleted": (3001, 6),
        "interface_request.submitted": (6003, 1),
        "approval.approved": (6003, 3),
    }
    for action, (class_uid, activity) in cases.items():
        event = ocsf_event({**base, "action": action}, log_name="test/log")
        assert (event["class_uid"], event["activity_id"]) == (class_uid, activity), action
        assert event["type_uid"] == class_uid * 100 + activity and event["category_uid"] == class_uid // 1000
        assert event["metadata"]["uid"] == "a" * 64 and event["metadata"]["sequence"] == 7
        assert event["metadata"]["version"].startswith("1.") and event["time"] == 1796637600000
        assert event["src_endpoint"] == {"ip": "10.0.0.1"} and event["actor"]["user"]["name"] == "alice"
        assert ("api" in event) == (class_uid == 6003) and ("user" in event) == (class_uid != 6003)
    failed = ocsf_event({**base, "action": "auth.login_failed", "outcome": "failure"}, log_name="x")
    assert (failed["status_id"], failed["severity_id"]) == (2, 3)
    read = ocsf_event({**base, "action": "scp.call", "payload": {"method": "GET"}}, log_name="x")
    assert read["activity_name"] == "Read" and read["unmapped"]["payload"] == {"method": "GET"}
    attach = ocsf_event({**base, "action": "scp.call", "payload": {"method": "POST"}}, log_name="x")
    detach = ocsf_event({**base, "action": "scp.call", "payload": {"method": "DELETE"}}, log_name="x")
    assert (attach["type_uid"], detach["type_uid"]) == (600301, 600304)


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for 127.0.0.1 it signed (PEM files: CA, certificate, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Rsyslog:
    """Debian's rsyslogd (with rsyslog-gnutls) taking RFC 5425 syslog over TLS on a free port, writing each
    message's text (the OCSF JSON) a line to a file."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.out = folder, _free_port(), folder / "received.jsonl"
        ca, cert, key = _certificates(folder)
        self.ca = ca
        (folder / "work").mkdir()
        self.conf = folder / "rsyslog.conf"
        self.conf.write_text(
            f'global(workDirectory="{folder / "work"}" maxMessageSize="256k" defaultNetstreamDriver="gtls"\n'
            f'       defaultNetstreamDriverCAFile="{ca}" defaultNetstreamDriverCertFile="{cert}"\n'
            f'       defaultNetstreamDriverKeyFile="{key}")\n'
            'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n'
            'template(name="text" type="string" string="%msg%\\n")\n'
            f'if $app-name == "scp-portal" then {{ action(type="omfile" file="{self.out}" template="text") }}\n'
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        pidfile = self.folder / "rsyslogd.pid"
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(pidfile)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while True:  # ready when it accepts connections
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    error = self.process.stderr.read().decode() if self.process.stderr else ""
                    self.stop()
                    raise RuntimeError(f"rsyslogd did not start: {error[-2000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None

    def received(self) -> list[dict]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def wait_for(self, count: int) -> list[dict]:
        """What it has written once it holds `count` events (rsyslog writes them a moment after it takes them)."""
        deadline = time.monotonic() + 120
        while len(got := self.received()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return got


@pytest.fixture
def rsyslog(tmp_path):
    receiver = Rsyslog(tmp_path)
    receiver.start()
    yield receiver
    receiver.stop()


def stream_now(receiver: Rsyslog) -> subprocess.CompletedProcess:
    """`manage.py audit_stream` in its own process (a portal process that starts, streams and ends)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "AUDIT_STREAM_SYSLOG": f"127.0.0.1:{receiver.port}",
        "AUDIT_STREAM_SYSLOG_CA": str(receiver.ca),
    }
    run = subprocess.run(
        [sys.executable, "manage.py", "audit_stream"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def sequences(received: list[dict]) -> list[int]:
    return sorted(event["metadata"]["sequence"] for event in received)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_every_event_reaches_a_real_rsyslog_over_tls_once_across_restarts_and_after_an_outage(
    events, rsyslog, settings
):
    events(40)
    assert "syslog: 40 event(s) taken" in stream_now(rsyslog).stdout
    first = rsyslog.wait_for(40)
    assert sequences(first) == list(range(1, 41))
    assert {e["class_uid"] for e in first} == {3002, 6003} and all(e["metadata"]["uid"] for e in first)
    events(15)
    assert "syslog: 15 event(s) taken" in stream_now(rsyslog).stdout  # a new process: it goes on from the cursor
    assert sequences(rsyslog.wait_for(55)) == list(range(1, 56))  # none twice

    rsyslog.stop()  # the receiver goes down
    events(10)
    assert "syslog: 0 event(s) taken" in stream_now(rsyslog).stdout
    cursor = AuditStreamCursor.objects.get(name="syslog")
    assert cursor.seq == 55 and cursor.failing_since is not None and "ConnectionRefused" in cursor.last_error
    failed = AuditEvent.objects.get(action="audit.stream_failed")
    assert failed.payload["at_seq"] == 56
    stream_now(rsyslog)  # still down: failing, but one event said so
    assert AuditEvent.objects.filter(action="audit.stream_failed").count() == 1
    settings.CONFIG = settings.CONFIG.model_copy(update={"audit_stream_syslog": f"127.0.0.1:{rsyslog.port}"})
    assert "syslog: 11 event(s) behind, failing since" in readiness()[1]["streams"]["detail"]

    rsyslog.start()  # back: everything it missed, the failure event too, then the recovery
    stream_now(rsyslog)
    stream_now(rsyslog)
    head = chain_head()[0]
    got = rsyslog.wait_for(head)
    assert sequences(got) == list(range(1, head + 1))
    actions = [e["metadata"]["event_code"] for e in sorted(got, key=lambda e: e["metadata"]["sequence"])]
    assert actions[-2:] == ["audit.stream_failed", "audit.stream_recovered"]
    assert AuditStreamCursor.objects.get(name="syslog").failing_since is None


class JsonLinesReceiver(BaseHTTPRequestHandler):
    """An HTTP endpoint taking JSON lines, as Vector's http_server or a Splunk HEC raw endpoint does."""

    refuse = 0
    got: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if JsonLinesReceiver.refuse:
            JsonLinesReceiver.refuse -= 1
            self.send_response(503)
        else:
            assert self.headers["Authorization"] == "Splunk test-token"
            JsonLinesReceiver.got += [json.loads(line) for line in body.decode().splitlines()]
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_https_stream_posts_json_lines_and_catches_up_after_refusals(events, settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), JsonLinesReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        JsonLinesReceiver.got, JsonLinesReceiver.refuse = [], 1
        settings.CONFIG = settings.CONFIG.model_copy(
            update={
                "audit_stream_http_url": f"http://127.0.0.1:{server.server_address[1]}/services/collector/raw",
                "audit_stream_http_authorization": SecretStr("Splunk test-token"),
                "audit_stream_batch": 7,
            }
        )
        events(20)
        assert streams_deliver() == {"http": 0}  # refused (503): nothing moves, the failure is an event
        assert AuditStreamCursor.objects.get(name="http").last_error.endswith("answered 503")
        assert streams_deliver() == {"http": 22}  # in batches of 7: the failure event, then the recovery's
        assert sequences(JsonLinesReceiver.got) == list(range(1, 23))
        assert JsonLinesReceiver.got[-1]["metadata"]["event_code"] == "audit.stream_recovered"
        assert streams_deliver() == {"http": 0}
        assert sequences(JsonLinesReceiver.got) == list(range(1, 23))
    finally:
        server.shutdown()
        server.server_close()
