"""SCIM clients from the shell: the IdPs that may provision users and groups, and their bearer tokens."""

from django.core.management.base import BaseCommand, CommandError

from portal.identity.models import ScimClient
from portal.identity.scim.clients import client_add, client_revoke, client_rotate


class Command(BaseCommand):
    help = "SCIM clients (IdPs that provision over /scim/v2/). `add` and `rotate` print the new token once."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        add = commands.add_parser("add", help="let the IdP NAME provision; prints its bearer token")
        add.add_argument("name")
        add.add_argument("--issuer", required=True, help="the IdP's OpenID Connect issuer (its users sign in there)")
        commands.add_parser("list", help="the SCIM clients")
        rotate = commands.add_parser("rotate", help="a new token for NAME (the old one stops at once)")
        rotate.add_argument("name")
        revoke = commands.add_parser("revoke", help="NAME's token stops working")
        revoke.add_argument("name")

    def _client(self, name) -> ScimClient:
        client = ScimClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f"no SCIM client named {name!r}")
        return client

    def handle(self, *args, command, **options):
        if command == "add":
            try:
                new = client_add(name=options["name"], issuer=options["issuer"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(new.secret)
        elif command == "rotate":
            self.stdout.write(client_rotate(self._client(options["name"])).secret)
        elif command == "revoke":
            client_revoke(self._client(options["name"]))
            self.stdout.write(f"revoked the token of {options['name']}")
        else:
            for client in ScimClient.objects.all():
                state = "revoked" if client.revoked_at else "live"
                users = client.identities.count()
                self.stdout.write(f"{client.name}\t{client.issuer}\t{client.token_prefix}\t{state}\t{users} users")
