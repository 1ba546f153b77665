"""Create the demo teams, groups and users (password from DEMO_PASSWORD), idempotently."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.config import DEFAULT_DEMO_PASSWORD
from portal.identity.models import GroupMapping
from portal.teams.models import OwnershipKind, ServerOwnership, Team

# Two teams split the simulator's demo servers; each has a requester and an approver of its own.
DEMO_TEAMS = {
    "web": {"patterns": ["web-*"], "approver_group": "web-approvers"},
    "apps": {"patterns": ["app-*", "dev-*"], "approver_group": "apps-approvers"},
}
# username: (groups, teams they are a member of, teams they audit)
DEMO_USERS = {
    "requester": ([], ["web", "apps"], []),
    "approver": (["web-approvers", "apps-approvers"], ["web", "apps"], []),
    "auditor": (["auditor"], [], []),
    "web-requester": ([], ["web"], []),
    "web-approver": (["web-approvers"], ["web"], []),
    "apps-requester": ([], ["apps"], []),
    "apps-approver": (["apps-approvers"], ["apps"], []),
    "apps-auditor": ([], [], ["apps"]),
    "admin": ([], [], []),
}
# With single sign-on on (make run SSO=1: the bundled test IdP, its users in tests/idp/demo-users.json), the IdP
# groups that grant the same: idp group -> (portal group, team, team role).
DEMO_MAPPINGS = {
    "portal-web": (None, "web", "member"),
    "portal-web-approvers": ("web-approvers", None, "member"),
    "portal-apps": (None, "apps", "member"),
    "portal-apps-approvers": ("apps-approvers", None, "member"),
    "portal-apps-audit": (None, "apps", "auditor"),
    "portal-auditors": ("auditor", None, "member"),
}


class Command(BaseCommand):
    help = "Create the demo teams (web, apps), their groups and the demo users (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        config = settings.CONFIG
        if not config.debug and config.demo_password.get_secret_value() == DEFAULT_DEMO_PASSWORD:
            raise CommandError(
                "seed_demo with DEBUG off would create users with the published demo password; set DEMO_PASSWORD "
                "to a password of your own (a staging or demo deployment), or do not seed production"
            )
        password = config.demo_password.get_secret_value()
        teams = {}
        for name, spec in DEMO_TEAMS.items():
            team, _ = Team.objects.get_or_create(name=name)
            for pattern in spec["patterns"]:
                ServerOwnership.objects.get_or_create(team=team, kind=OwnershipKind.NAME_PATTERN, value=pattern)
            team.approver_groups.add(Group.objects.get_or_create(name=spec["approver_group"])[0])
            teams[name] = team
        User = get_user_model()
        for username, (groups, member_of, audits) in DEMO_USERS.items():
            user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            if created:
                user.set_password(password)
            if username == "admin":
                user.is_staff = user.is_superuser = True
            user.save()
            user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
            user.teams.set([teams[t] for t in member_of])
            user.audited_teams.set([teams[t] for t in audits])
        if config.oidc_issuer is not None:
            for idp_group, (group, team, role) in DEMO_MAPPINGS.items():
                GroupMapping.objects.get_or_create(
                    idp_group=idp_group,
                    portal_group=Group.objects.get_or_create(name=group)[0] if group else None,
                    team=teams[team] if team else None,
                    team_role=role,
                )
        self.stdout.write(f"Demo teams ready: {', '.join(DEMO_TEAMS)}; users: {', '.join(DEMO_USERS)}")
