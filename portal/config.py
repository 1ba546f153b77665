"""The portal's configuration, read once from the environment (and `.env` in development).

A bad value stops start-up with a message that names the variable. Secrets are `SecretStr`, so they never
print, and they are handed to the SCP client only.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from portal.audit.note import COSIGNATURE, NoteError, Verifier  # (standard library and cryptography only)

BASE_DIR = Path(__file__).resolve().parent.parent

DEMO_ACCESS_KEY = "demo-access-key-0001"
DEMO_SECRET_KEY = "demo-secret-key-not-for-production"
DEFAULT_DEMO_PASSWORD = "demo-pass-2026"
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789"


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class PortalConfig(BaseSettings):
    model_config = SettingsConfigDict(env_file=BASE_DIR / ".env", extra="ignore", case_sensitive=False)

    debug: bool = False  # make run and the tests turn it on; a plain deploy never shows debug pages
    # Under DEBUG, Django's technical 404 (every URL pattern) instead of the portal's own page: opt in to see it.
    debug_technical_404: bool = False
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    allowed_hosts: Annotated[list[str], NoDecode] = ["localhost", "127.0.0.1", "[::1]"]
    csrf_trusted_origins: Annotated[list[str], NoDecode] = []
    database_url: str = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    static_root: Path = BASE_DIR / "staticfiles"  # where collectstatic writes and whitenoise serves from
    trusted_proxies: Annotated[list[str], NoDecode] = []  # REMOTE_ADDRs whose X-Forwarded-For we believe

    scp_virtualserver_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001/virtualserver")
    scp_vpc_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001/vpc")
    scp_access_key: str = Field(DEMO_ACCESS_KEY, min_length=1, max_length=256)
    scp_secret_key: SecretStr | None = None
    scp_secret_key_file: Path | None = None
    scp_virtualserver_api_version: str = Field("1.3", pattern=r"^\d+\.\d+$")
    scp_vpc_api_version: str = Field("1.2", pattern=r"^\d+\.\d+$")
    scp_accept_language: Literal["en-US", "ko-KR"] = "en-US"
    scp_connect_timeout: float = Field(3.05, gt=0, le=60)
    scp_read_timeout: float = Field(30.0, gt=0, le=300)
    # A page that reads SCP waits at most this long for an answer (the worker keeps scp_read_timeout).
    scp_page_read_timeout: float = Field(5.0, gt=0, le=60)
    scp_poll_interval: float = Field(1.0, gt=0, le=60)
    scp_settle_timeout: float = Field(120.0, gt=0, le=3600)
    # How long one live check against SCP stands for the next step: Confirm submits on its preview's check, and
    # the worker sends on the submission's check, when that check is at most this old (and, for the worker, no
    # other write began on the server since). Older, or 0: SCP is asked again. SCP checks every write itself.
    scp_check_fresh_seconds: float = Field(30.0, ge=0, le=600)

    tasks_backend: Literal["database", "immediate"] = "database"
    execution_lease_seconds: int = Field(600, ge=30)
    # How long a write found "not applied" after a lost answer is watched for SCP applying it late.
    late_apply_watch_hours: float = Field(24.0, ge=0, le=24 * 30)
    # How long such a write keeps its outcome open (and its server free of other writes) before it is called not
    # applied: SCP carries out a write its gateway timed out on within seconds; the long watch covers the rest.
    late_apply_window_seconds: float = Field(60.0, ge=0, le=3600)
    # Refusals anyone can cause without credentials are counted per source address and window: the first is an
    # audit event, the rest one event with their count; beyond the limit such a source is answered 429.
    refusal_window_seconds: int = Field(60, ge=1, le=3600)
    anonymous_refusal_limit: int = Field(30, ge=1, le=100000)
    # Signed checkpoints of the audit log (c2sp.org/tlog-checkpoint): the Ed25519 key (PRIVATE+KEY+… text, made by
    # `manage.py audit_checkpoint --new-key FILE`; make run makes a development one), the log's origin line and key
    # name, how often the scheduler signs one, and a folder each is also written to (mount write-once storage).
    audit_signing_key_file: Path | None = None
    audit_log_origin: str = Field("localhost/scp-portal/audit", pattern=r"^[^\s+]{1,200}$")
    audit_checkpoint_interval: int = Field(300, ge=10, le=86400)
    audit_checkpoint_dir: Path | None = None
    # Witnesses that cosign each checkpoint (c2sp.org/tlog-witness): comma-separated "URL VKEY" pairs, the URL its
    # submission prefix and VKEY its cosigner key (`python -m portal.audit.witness vkey`). One that has cosigned
    # nothing for `audit_witness_quiet_seconds` while checkpoints were signed shows as quiet in /readyz.
    audit_witnesses: Annotated[list[str], NoDecode] = []
    audit_witness_quiet_seconds: int = Field(3600, ge=60, le=7 * 86400)
    # Streaming the audit log to a SIEM, each event as OCSF 1.x JSON, at least once, from a cursor per stream:
    # syslog over TLS (RFC 5425, HOST:PORT, usually 6514; the CA file that signs the receiver's certificate, else the
    # system's), and an HTTPS endpoint taking JSON lines (a Splunk HEC or Vector; the Authorization header's value).
    audit_stream_syslog: str = Field("", pattern=r"^$|^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$|^\[[0-9A-Fa-f:]+\]:[0-9]{1,5}$")
    audit_stream_syslog_ca: Path | None = None
    audit_stream_http_url: AnyHttpUrl | None = None
    audit_stream_http_authorization: SecretStr | None = None
    audit_stream_http_ca: Path | None = None
    audit_stream_batch: int = Field(500, ge=1, le=10000)
    # How long one delivery of an effect may take before the scheduler's sweep delivers it again.
    effect_lease_seconds: int = Field(60, ge=1, le=3600)
    # Fault injection for the crash tests: the named points kill the process (see audit/outbox.py). Never set.
    crash_points: Annotated[list[str], NoDecode] = []
    approval_expiry_hours: float = Field(72.0, gt=0)
    # When no policy matches: "auto" approves; "team" asks any one of the owning team's approver groups; any
    # other value names the group that must approve.
    approval_default: str = Field("team", min_length=1, max_length=150)
    demo_password: SecretStr = SecretStr(DEFAULT_DEMO_PASSWORD)
    # Mail: "smtp" (the EMAIL_* settings below), "none" (run without email, on purpose), "console" (development),
    # or a backend's dotted path. Unset: SMTP when EMAIL_HOST is set, the console under DEBUG, else an error.
    email_backend: str = ""
    email_host: str = ""
    email_port: int | None = Field(None, ge=1, le=65535)
    email_host_user: str = ""
    email_host_password: SecretStr | None = None
    email_use_tls: bool = False
    email_use_ssl: bool = False
    email_timeout: float = Field(10.0, gt=0, le=120)
    default_from_email: str = "scp-portal@localhost"

    # HTTPS. Unset values follow DEBUG: off in development, on in production.
    secure_ssl_redirect: bool | None = None
    secure_hsts_seconds: int | None = Field(None, ge=0)
    secure_hsts_include_subdomains: bool = False
    secure_hsts_preload: bool = False
    # The header a TLS-terminating proxy sets, e.g. "X-Forwarded-Proto"; its value "https" marks a secure request.
    # Set it only when that proxy always sets (or strips) the header.
    secure_proxy_ssl_header: str = Field("", pattern=r"^[A-Za-z0-9-]*$")
    session_cookie_secure: bool | None = None
    # Sessions end after this long without a request, and this long after sign-in whatever happens.
    session_idle_timeout: int = Field(3600, ge=60)
    session_max_age: int = Field(12 * 3600, ge=300)

    # Sign-in throttling: this many failures for a user name, or from an address, lock it for the cool-off.
    login_failure_limit: int = Field(5, ge=1, le=1000)
    login_cooloff_minutes: float = Field(15.0, gt=0)

    # The JSON API's personal access tokens: the longest expiry a user may choose, and each token's calls a minute.
    api_token_max_days: int = Field(90, ge=1, le=3650)
    api_rate_limit: int = Field(120, ge=1, le=1_000_000)

    # Operations: log format (json unless DEBUG), who may read /metrics (a bearer token, or these networks),
    # and how old the worker's and scheduler's heartbeats may be before /readyz says not ready.
    log_format: Literal["json", "console", ""] = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_token: SecretStr | None = None
    metrics_allowed_networks: Annotated[list[str], NoDecode] = ["127.0.0.1/32", "::1/128"]
    heartbeat_max_age: int = Field(300, ge=10)
    portal_base_url: str = "http://127.0.0.1:8000"

    # Single sign-on (OpenID Connect, authorization code flow with PKCE); off while OIDC_ISSUER is unset.
    oidc_issuer: AnyHttpUrl | None = None
    oidc_client_id: str = Field("", max_length=255)
    oidc_client_secret: SecretStr | None = None
    oidc_client_secret_file: Path | None = None
    oidc_groups_claim: str = Field("groups", min_length=1, max_length=100)
    oidc_scopes: str = "openid email profile groups"
    oidc_timeout: float = Field(5.0, gt=0, le=60)
    # A session signed in through the IdP asks it again this often (refresh token, then userinfo): an ended IdP
    # session or a disabled user signs the session out, changed groups apply. 0: never (SCIM deprovisions).
    oidc_recheck_seconds: int = Field(900, ge=0, le=86400)
    # Password sign-in: "on" for everyone, "staff" for administrators only (break-glass), "off".
    password_login: Literal["on", "staff", "off"] = "on"

    _csv_fields = field_validator(
        "allowed_hosts",
        "csrf_trusted_origins",
        "trusted_proxies",
        "metrics_allowed_networks",
        "crash_points",
        "audit_witnesses",
        mode="before",
    )(_csv)

    @field_validator("audit_witnesses")
    @classmethod
    def _witnesses(cls, value: list[str]) -> list[str]:
        for item in value:
            url, _, vkey = item.partition(" ")
            try:
                kind = Verifier.from_vkey(vkey).kind
            except NoteError as exc:
                raise ValueError(f"{item[:80]!r}: {exc}") from None
            if not url.startswith(("http://", "https://")) or kind != COSIGNATURE:
                raise ValueError(f"{item[:80]!r} is not 'URL VKEY' with a witness's cosigner key (type 0x04)")
        return value

    @field_validator("metrics_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # a ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _resolve_mail(self) -> PortalConfig:
        chosen = self.email_backend.strip()
        named = MAIL_BACKENDS.get(chosen.lower())
        if not chosen:
            named = MAIL_BACKENDS["smtp" if self.email_host else "console" if self.debug else ""]
        backend = named if named is not None else chosen
        if not backend:
            raise ValueError(
                "EMAIL_BACKEND: no mail server is configured; set EMAIL_HOST (SMTP), or EMAIL_BACKEND=none to run "
                "without email"
            )
        if backend == MAIL_BACKENDS["smtp"] and not self.email_host:
            raise ValueError("EMAIL_HOST is required for SMTP mail (or set EMAIL_BACKEND=none)")
        if not self.debug and backend in DEVELOPMENT_MAIL_BACKENDS:
            raise ValueError(
                f"EMAIL_BACKEND: {backend} is for development; set EMAIL_HOST (SMTP), or EMAIL_BACKEND=none to run "
                "without email"
            )
        if self.email_use_tls and self.email_use_ssl:
            raise ValueError("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other")
        self.email_backend = backend
        return self

    @property
    def email_enabled(self) -> bool:
        return self.email_backend != MAIL_BACKENDS["none"]

    @property
    def email_real(self) -> bool:
        """Whether mail leaves this machine (a reset link must never land in a log)."""
        return self.email_enabled and self.email_backend not in DEVELOPMENT_MAIL_BACKENDS

    @model_validator(mode="after")
    def _resolve_oidc(self) -> PortalConfig:
        if self.oidc_client_secret_file is not None:
            self.oidc_client_secret = SecretStr(
                _read_secret_file(self.oidc_client_secret_file, "OIDC_CLIENT_SECRET_FILE")
            )
        if self.oidc_issuer is not None:
            if not self.oidc_client_id:
                raise ValueError("OIDC_CLIENT_ID is required when OIDC_ISSUER is set")
            if self.oidc_client_secret is None:
                raise ValueError("OIDC_CLIENT_SECRET (or OIDC_CLIENT_SECRET_FILE) is required when OIDC_ISSUER is set")
        elif self.password_login == "off":
            raise ValueError("PASSWORD_LOGIN=off needs OIDC_ISSUER: nobody could sign in")
        return self

    @model_validator(mode="after")
    def _resolve_secret(self) -> PortalConfig:
        if self.scp_secret_key_file is not None:
            self.scp_secret_key = SecretStr(_read_secret_file(self.scp_secret_key_file, "SCP_SECRET_KEY_FILE"))
        if self.scp_secret_key is None:
            if not self.debug:
                raise ValueError("SCP_SECRET_KEY (or SCP_SECRET_KEY_FILE) is required when DEBUG is off")
            self.scp_secret_key = SecretStr(DEMO_SECRET_KEY)
        if not self.debug and self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError("SECRET_KEY must be set when DEBUG is off")
        return self


MAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "none": "portal.core.mail.DisabledEmailBackend",
    "": "",
}
DEVELOPMENT_MAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
}


def _read_secret_file(path: Path, variable: str) -> str:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"{variable} cannot be read: {exc.strerror}") from None
    if not text:
        raise ValueError(f"{variable} is empty")
    return text


class ConfigurationError(SystemExit):
    pass


def load_config() -> PortalConfig:
    """Read the configuration, or stop with a message naming each bad variable."""
    try:
        # The tests read no .env: what they run against is what tests/env.py sets, nothing else.
        return PortalConfig(_env_file=None) if os.environ.get("PORTAL_IGNORE_DOTENV") else PortalConfig()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"][:1]).upper()
            message = error["msg"].removeprefix("Value error, ")
            # A rule across variables has no single field; its message starts with the variable(s) it is about.
            lines.append(f"  {name}: {message}" if name else f"  {message}")
        raise ConfigurationError("Invalid configuration:\n" + "\n".join(lines)) from None
