"""Configuration: typed, fails fast naming the variable, and the version check stops `manage.py check`."""

import datetime as dt
import os
import subprocess
import sys

import pytest

from portal.config import ConfigurationError, PortalConfig, load_config
from portal.core.checks import check_scp_api_versions
from tests.conftest import ROOT

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SCP_", "DEBUG", "SECRET_KEY", "DATABASE"))}


def run_manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**CLEAN_ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("SCP_READ_TIMEOUT", "soon", "SCP_READ_TIMEOUT"),
        ("SCP_VIRTUALSERVER_URL", "not a url", "SCP_VIRTUALSERVER_URL"),
        ("SCP_VIRTUALSERVER_API_VERSION", "v1.3", "SCP_VIRTUALSERVER_API_VERSION"),
        ("SCP_ACCEPT_LANGUAGE", "fr-FR", "SCP_ACCEPT_LANGUAGE"),
        ("DEBUG", "perhaps", "DEBUG"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch, variable, value, fragment):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=fragment):
        load_config()


def test_production_requires_real_secrets(monkeypatch):
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("EMAIL_BACKEND", "none")
    monkeypatch.delenv("SCP_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SCP_SECRET_KEY"):
        load_config()
    monkeypatch.setenv("SCP_SECRET_KEY", "real")
    with pytest.raises(ConfigurationError, match="SECRET_KEY must be set"):
        load_config()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "EMAIL_BACKEND: no mail server is configured; set EMAIL_HOST"),
        (
            {"EMAIL_BACKEND": "console"},
            "EMAIL_BACKEND: django.core.mail.backends.console.EmailBackend is for",
        ),
        ({"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}, "is for development"),
        ({"EMAIL_BACKEND": "smtp"}, "EMAIL_HOST is required for SMTP mail"),
        ({"EMAIL_HOST": "mail.example.com", "EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "exclude each other"),
    ],
)
def test_production_stops_without_a_real_mail_backend(monkeypatch, env, message):
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("SCP_SECRET_KEY", "real-scp-secret")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret-key-for-this-test-0123456789-abcdefghijkl")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message):
        load_config()


def test_production_mail_is_smtp_or_explicitly_none(monkeypatch):
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("SCP_SECRET_KEY", "real-scp-secret")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret-key-for-this-test-0123456789-abcdefghijkl")
    monkeypatch.setenv("EMAIL_HOST", "mail.example.com")
    config = load_config()
    assert config.email_backend == "django.core.mail.backends.smtp.EmailBackend" and config.email_real
    monkeypatch.delenv("EMAIL_HOST")
    monkeypatch.setenv("EMAIL_BACKEND", "none")
    config = load_config()
    assert not config.email_enabled and not config.email_real


def test_secret_key_file_is_read_and_never_printed(monkeypatch, tmp_path):
    secret_file = tmp_path / "scp-secret"
    secret_file.write_text("file-secret-value\n")
    monkeypatch.setenv("SCP_SECRET_KEY_FILE", str(secret_file))
    config = PortalConfig()
    assert config.scp_secret_key.get_secret_value() == "file-secret-value"
    assert "file-secret-value" not in repr(config) and "file-secret-value" not in str(config.model_dump())


def test_defaults_need_no_configuration(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SCP_"):
            monkeypatch.delenv(name)
    config = PortalConfig(_env_file=None)
    assert str(config.scp_virtualserver_url).startswith("http://127.0.0.1:8001")
    assert config.scp_virtualserver_api_version == "1.3" and config.database_url.startswith("sqlite:///")


def test_manage_check_fails_for_an_expired_version_naming_it_and_its_date():
    result = run_manage("check", SCP_VIRTUALSERVER_API_VERSION="1.0", DEBUG="true")
    assert result.returncode == 1
    assert "SCP_VIRTUALSERVER_API_VERSION=1.0" in result.stderr and "2025-12-31" in result.stderr


def test_manage_check_passes_with_the_development_defaults():
    result = run_manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_debug_is_off_unless_asked_for_so_a_plain_deploy_needs_real_secrets():
    result = run_manage("check")
    assert result.returncode != 0 and "EMAIL_BACKEND" in result.stderr
    result = run_manage("check", EMAIL_BACKEND="none")
    assert result.returncode != 0 and "SCP_SECRET_KEY" in result.stderr


def test_debug_pages_mask_the_configuration_and_every_value_holding_a_secret(rf, settings):
    import sys

    from django.views.debug import technical_500_response
    from pydantic import SecretStr

    # Built from pieces: the page also shows this test's source lines, which must not carry the whole secrets.
    scp_secret, db_password = "-".join(["sk", "live", "5ecret"]), "".join(["db-", "pa55", "word"])
    settings.CONFIG = settings.CONFIG.model_copy(
        update={"scp_secret_key": SecretStr(scp_secret), "database_url": f"postgres://app:{db_password}@db/portal"}
    )
    settings.DEBUG = True

    def fail(signing_material: str):
        raise RuntimeError("boom")

    secret = settings.CONFIG.scp_secret_key.get_secret_value()
    try:
        fail(f"prefix {secret} and {settings.CONFIG.database_url}")
    except RuntimeError:
        page = technical_500_response(rf.get("/"), *sys.exc_info()).content.decode()
    assert "boom" in page and scp_secret not in page and db_password not in page
    assert "CONFIG" in page and settings.CONFIG.scp_access_key not in page


def test_check_warns_for_a_version_that_is_not_current(settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"scp_virtualserver_api_version": "1.2"})
    problems = check_scp_api_versions(today=dt.date(2026, 11, 27))
    assert [p.id for p in problems] == ["portal.W001"]


def test_healthz_answers_for_any_host(client):
    response = client.get("/healthz", HTTP_HOST="internal-probe")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_the_tests_reach_only_their_own_simulator_whatever_the_shell_holds(tmp_path):
    """A shell set up for real work (SCP_* and OIDC_* variables, a .env) changes nothing about where tests go."""
    real = {
        "SCP_VIRTUALSERVER_URL": "https://virtualserver.kr-west1.e.example.com",
        "SCP_VPC_URL": "https://vpc.kr-west1.e.example.com",
        "SCP_ACCESS_KEY": "real-access-key",
        "SCP_SECRET_KEY": "real-secret-key",
        "OIDC_ISSUER": "https://idp.example.com",
    }
    env = {**os.environ, **real, "SIM_PORT": "54321"}
    probe = (
        "import tests.env, os\n"
        "from portal.config import load_config\n"
        "c = load_config()\n"
        "print(c.scp_virtualserver_url, c.scp_vpc_url, c.scp_access_key, c.scp_secret_key.get_secret_value(),"
        " c.oidc_issuer)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "http://127.0.0.1:54321/virtualserver",
        "http://127.0.0.1:54321/vpc",
        "demo-access-key-0001",
        "demo-secret-key-not-for-production",
        "None",
    ]
