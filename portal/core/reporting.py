"""Error reports (Django's debug page, error mails) never show the portal's secrets."""

from __future__ import annotations

import re

from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter


def _secret_values() -> list[str]:
    config = getattr(settings, "CONFIG", None)
    if config is None:
        return []
    values = []
    for name in ("scp_secret_key", "secret_key", "oidc_client_secret", "demo_password"):
        secret = getattr(config, name, None)
        if secret is not None:
            values.append(secret.get_secret_value())
    values.append(config.scp_access_key)
    password = re.search(r"://[^:/@]+:([^@]+)@", config.database_url or "")
    if password:
        values.append(password.group(1))
    return [v for v in values if v and len(v) >= 4]


class SecretMaskingFilter(SafeExceptionReporterFilter):
    # Django hides settings whose names look secret; CONFIG and DATABASE_URL hold secrets under other names.
    hidden_settings = re.compile(r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CONFIG|DATABASE|AUTH", flags=re.I)

    def _leaks(self, value) -> bool:
        try:
            text = repr(value)
        except Exception:  # a repr that fails shows nothing either
            return True
        return any(secret in text for secret in _secret_values())

    def cleanse_setting(self, key, value):
        if self._leaks(value):
            return self.cleansed_substitute
        return super().cleanse_setting(key, value)

    def get_traceback_frame_variables(self, request, tb_frame):
        cleansed = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if self.hidden_settings.search(name) or self._leaks(value) else value)
            for name, value in cleansed
        ]
