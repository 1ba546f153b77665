from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class PasswordBackend(ModelBackend):
    """Django's password sign-in, as far as PASSWORD_LOGIN allows: everyone, administrators only, or nobody.

    Sessions it started end when it no longer allows their user (get_user asks the same question).
    """

    def user_can_authenticate(self, user) -> bool:
        mode = settings.CONFIG.password_login
        if mode == "off" or (mode == "staff" and not user.is_staff):
            return False
        return super().user_can_authenticate(user)
