"""compute_signature against vectors produced by an independent implementation (the scpv2-sdk package)."""

import pytest
import requests

from portal.scp.signing import ScpAuth, compute_signature, mask_access_key

SUBNETS_QUERY_URL = (
    "https://vpc.kr-west1.e.samsungsdscloud.com/v1/subnets?name=%EC%9B%B9+%EC%84%9C%EB%B2%84%2F1+%26+co&size=20"
)

VECTORS = [
    (
        "GET",
        "https://virtualserver.kr-west1.e.samsungsdscloud.com/v1/servers",
        "1605290625682",
        "2sd2gg=2agbdSD26svcD",
        "secret-key-1",
        "//V+g+Q8z7P8CEi6xHkqGXWCuv7xeJhRTF4N/8AVOA4=",
    ),
    (
        "post",  # the method is upper-cased before signing
        "https://virtualserver.kr-west1.e.samsungsdscloud.com/v1/servers/2a9be312-5d4b-4bc8-b2ae-35100fa9241f/interfaces",
        "1605290625682",
        "AK1",
        "S3cr3t",
        "W0Pl2PItWzfnXhsrJgxywW618/1oBizTqKBxMZSaazo=",
    ),
    ("GET", SUBNETS_QUERY_URL, "1700000000000", "AK1", "S3cr3t", "SRwJ9g7iKptYp2LoeDse1dre3kcodb86QZKz2+xcC9E="),
    (
        "DELETE",
        "http://127.0.0.1:8001/vpc/v1/ports?name=포트",  # non-ASCII text is signed as UTF-8
        "1700000000000",
        "키-AK",
        "비밀",
        "gD6tO2YpTHQYBv7ca2ifR+PZLu7I0M+slt6C6gxkBdw=",
    ),
]


@pytest.mark.parametrize(("method", "url", "timestamp", "access_key", "secret_key", "expected"), VECTORS)
def test_compute_signature_matches_fixed_vectors(method, url, timestamp, access_key, secret_key, expected):
    signature = compute_signature(
        method=method, url=url, timestamp=timestamp, access_key=access_key, secret_key=secret_key
    )
    assert signature == expected


def test_signature_changes_with_every_signed_part():
    base = dict(method="GET", url="https://h/v1/servers", timestamp="1", access_key="a", secret_key="s")
    original = compute_signature(**base)
    for part, other in [
        ("method", "POST"),
        ("url", "https://h/v1/servers?x=1"),
        ("timestamp", "2"),
        ("access_key", "b"),
        ("secret_key", "t"),
    ]:
        assert compute_signature(**{**base, part: other}) != original, part


def test_auth_signs_the_prepared_url_exactly_as_sent_with_percent_encoding():
    auth = ScpAuth(access_key="AK1", secret_key="S3cr3t", clock=lambda: 1700000000.0)
    request = requests.Request(
        "GET",
        "https://vpc.kr-west1.e.samsungsdscloud.com/v1/subnets",
        params={"name": "웹 서버/1 & co", "size": 20},
        auth=auth,
    ).prepare()
    assert request.url == SUBNETS_QUERY_URL
    assert request.headers["Scp-Timestamp"] == "1700000000000"
    assert request.headers["Scp-Signature"] == "SRwJ9g7iKptYp2LoeDse1dre3kcodb86QZKz2+xcC9E="
    assert request.headers["Scp-ClientType"] == "Openapi"
    assert request.headers["Scp-Accesskey"] == "AK1"


def test_every_preparation_gets_a_fresh_timestamp():
    times = iter([1000.0, 1001.5])
    auth = ScpAuth(access_key="a", secret_key="s", clock=lambda: next(times))
    first = requests.Request("GET", "https://h/v1/servers", auth=auth).prepare()
    second = requests.Request("GET", "https://h/v1/servers", auth=auth).prepare()
    assert first.headers["Scp-Timestamp"] == "1000000"
    assert second.headers["Scp-Timestamp"] == "1001500"
    assert first.headers["Scp-Signature"] != second.headers["Scp-Signature"]


def test_auth_repr_and_masking_never_show_the_secret():
    auth = ScpAuth(access_key="ACCESS-KEY-1234", secret_key="very-secret")
    assert "very-secret" not in repr(auth)
    assert "ACCESS-KEY" not in repr(auth)
    assert mask_access_key("ACCESS-KEY-1234") == "…1234"
