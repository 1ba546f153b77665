"""Create the demo groups and users (password from DEMO_PASSWORD), idempotently."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.core.roles import APPROVER, AUDITOR, REQUESTER, ROLES

DEMO_USERS = {
    "requester": [REQUESTER],
    "approver": [APPROVER],
    "auditor": [AUDITOR],
    "admin": [],
}


class Command(BaseCommand):
    help = "Create the groups requester, approver, auditor and the demo users (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        from django.conf import settings

        password = settings.CONFIG.demo_password.get_secret_value()
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
        User = get_user_model()
        for username, roles in DEMO_USERS.items():
            user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            if created:
                user.set_password(password)
            if username == "admin":
                user.is_staff = user.is_superuser = True
            user.save()
            user.groups.set([groups[r] for r in roles])
        self.stdout.write(f"Demo users ready: {', '.join(DEMO_USERS)}")
