"""Django settings. Every value comes from `portal.config.load_config()`; nothing else reads the environment."""

import datetime as dt
import logging

import dj_database_url

from portal.config import BASE_DIR, load_config
from portal.core.csp import csp_policy
from portal.core.logs import logging_config

CONFIG = load_config()

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key.get_secret_value()
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "axes",
    "django_structlog",
    "ninja",
    "portal.core",
    "portal.teams",
    "portal.identity",
    "portal.audit",
    "portal.api",
    "portal.drift",
    "portal.interfaces",
    "portal.approvals",
]

MIDDLEWARE = [
    "portal.core.middleware.OperationsMiddleware",  # /healthz, /readyz, /metrics: before host checks and redirects
    "django.middleware.security.SecurityMiddleware",
    "portal.core.csp.PortalContentSecurityPolicyMiddleware",
    "portal.interfaces.watch.RequestWatchMiddleware",  # a request page's change check: before sessions, one query
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.identity.middleware.PreferencesMiddleware",  # the signed-in user's language and time zone
    "portal.identity.middleware.SessionLifetimeMiddleware",
    "portal.identity.middleware.SessionRekeyMiddleware",  # a cycled session key: its tracked session follows
    "portal.core.middleware.BodySizeMiddleware",  # before any view or CSRF check reads an oversized body
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.core.middleware.RequestContextMiddleware",
    "django_structlog.middlewares.RequestMiddleware",  # request id and a start/finish line for every request
    "portal.identity.middleware.IdpRecheckMiddleware",  # an SSO session asks the IdP again now and then
    "portal.core.middleware.RejectControlCharactersMiddleware",
    "portal.core.middleware.ScpDownMiddleware",  # a page that needed SCP while it did not answer: one 503 page
    "portal.core.middleware.NotFoundPageMiddleware",  # the portal's 404 page under DEBUG too
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:  # in development runserver serves static files; in production whitenoise does
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "portal.core.context_processors.navigation",
            ],
            "builtins": ["portal.core.templatetags.portal_tags", "django.templatetags.i18n"],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of failing mid-transaction.
    # WAL lets the web, the worker and readers share the file without blocking each other's reads.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": (
            "django.tasks.backends.immediate.ImmediateBackend"
            if CONFIG.tasks_backend == "immediate"
            else "django_tasks_db.DatabaseBackend"
        )
    },
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out user name or address before any other backend
    "portal.identity.backends.PasswordBackend",  # PASSWORD_LOGIN decides who may use it
    "portal.identity.oidc.PortalOIDCBackend",  # inert until OIDC_ISSUER is set
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = CONFIG.session_max_age  # the absolute lifetime; the idle timeout is the middleware's
SESSION_IDLE_TIMEOUT = CONFIG.session_idle_timeout
_secure_default = not DEBUG
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = (
    _secure_default if CONFIG.session_cookie_secure is None else CONFIG.session_cookie_secure
)
SECURE_SSL_REDIRECT = _secure_default if CONFIG.secure_ssl_redirect is None else CONFIG.secure_ssl_redirect
SECURE_HSTS_SECONDS = (
    (31_536_000 if _secure_default else 0) if CONFIG.secure_hsts_seconds is None else (CONFIG.secure_hsts_seconds)
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = CONFIG.secure_hsts_include_subdomains
SECURE_HSTS_PRELOAD = CONFIG.secure_hsts_preload
if CONFIG.secure_proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + CONFIG.secure_proxy_ssl_header.upper().replace("-", "_"), "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# No inline script or style anywhere, and no eval (portal/core/csp.py).
SECURE_CSP = csp_policy(CONFIG)

# Sign-in throttling (django-axes): failures counted per user name and per address, locked for the cool-off.
AXES_FAILURE_LIMIT = CONFIG.login_failure_limit
AXES_COOLOFF_TIME = dt.timedelta(minutes=CONFIG.login_cooloff_minutes)
AXES_LOCKOUT_PARAMETERS = "portal.identity.throttling.lockout_parameters"
AXES_CLIENT_IP_CALLABLE = "portal.identity.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "portal.identity.throttling.locked_out"
AXES_WHITELIST_CALLABLE = "portal.identity.throttling.sso_not_counted"
AXES_RESET_ON_SUCCESS = True
AXES_SENSITIVE_PARAMETERS = ["password", "code", "state", "nonce", "code_verifier"]
AXES_VERBOSE = False

# English is the source, Korean a complete translation (make test fails on a message missing from it). The language
# is the user's saved preference, else the switcher's cookie, else the browser's; times show in the user's time
# zone (a preference), UTC otherwise.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "portal_language"
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = CONFIG.static_root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

MAILERS = {"default": {"BACKEND": CONFIG.email_backend}}
if CONFIG.email_backend == "django.core.mail.backends.smtp.EmailBackend":
    MAILERS["default"]["OPTIONS"] = {
        "host": CONFIG.email_host,
        "port": CONFIG.email_port,
        "username": CONFIG.email_host_user or None,
        "password": CONFIG.email_host_password.get_secret_value() if CONFIG.email_host_password else None,
        "use_tls": CONFIG.email_use_tls,
        "use_ssl": CONFIG.email_use_ssl,
        "timeout": CONFIG.email_timeout,
    }
DEFAULT_FROM_EMAIL = CONFIG.default_from_email

# Debug pages and error mails: the configuration object and any value holding a secret are masked.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.core.reporting.SecretMaskingFilter"

LOGGING = logging_config(CONFIG)
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False  # the address comes from our own middleware (trusted proxies only)
DJANGO_STRUCTLOG_STATUS_4XX_LOG_LEVEL = logging.INFO  # a refusal is the audit log's business, not a warning
