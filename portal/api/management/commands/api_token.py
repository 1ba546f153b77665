"""Create, list or revoke personal access tokens from the shell (the profile page does the same for its user)."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.api.tokens import token_by_prefix, token_create, token_revoke, tokens_of


class Command(BaseCommand):
    help = "Personal access tokens for the JSON API. `create` prints the token, and nothing else, on stdout."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        create = commands.add_parser("create", help="create a token for USERNAME")
        create.add_argument("username")
        create.add_argument("--name", default="command line")
        create.add_argument("--scopes", default="read", help="comma-separated: read, request, approve, audit")
        create.add_argument("--days", type=int, default=7, help="days until it expires (at most API_TOKEN_MAX_DAYS)")
        listing = commands.add_parser("list", help="USERNAME's tokens")
        listing.add_argument("username")
        revoke = commands.add_parser("revoke", help="revoke the token with this public prefix (scpp_…)")
        revoke.add_argument("prefix")

    def _user(self, username):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        return user

    def handle(self, *args, command, **options):
        if command == "create":
            user = self._user(options["username"])
            expires = timezone.now() + dt.timedelta(days=options["days"])
            scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
            try:
                new = token_create(user=user, name=options["name"], scopes=scopes, expires_at=expires, via="command")
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(new.secret)
        elif command == "list":
            now = timezone.now()
            for token in tokens_of(self._user(options["username"])):
                used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
                self.stdout.write(
                    f"{token.prefix}  {token.state(now):8}  {','.join(token.scopes):28}  "
                    f"expires {token.expires_at:%Y-%m-%d}  {used}  {token.name}"
                )
        else:
            token = token_by_prefix(options["prefix"])
            if token is None:
                raise CommandError(f"no token {options['prefix']!r}")
            self.stdout.write("revoked" if token_revoke(token=token, by=None) else "already revoked")
