"""Password reset mails its link: offered only where a real mail backend would carry it."""

import pytest


@pytest.mark.parametrize(
    "url", ["/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/MQ/set-password/"]
)
def test_password_reset_is_not_offered_with_a_console_mail_backend(client, db, url):
    response = client.get(url)
    assert response.status_code == 404 and "Password reset is not offered here" in response.content.decode()


def test_password_reset_is_offered_with_a_real_mail_backend(client, db, settings):
    settings.CONFIG = settings.CONFIG.model_copy(
        update={"email_backend": "django.core.mail.backends.smtp.EmailBackend"}
    )
    assert client.get("/accounts/password_reset/").status_code == 200
    settings.CONFIG = settings.CONFIG.model_copy(update={"password_login": "staff"})
    assert client.get("/accounts/password_reset/").status_code == 404
