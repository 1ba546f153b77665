"""Sign a checkpoint of the audit log now and print it; or print the verifier key; or make a signing key."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.audit import checkpoints


class Command(BaseCommand):
    help = (
        "Sign a checkpoint of the audit log now (c2sp.org/tlog-checkpoint) and print it. --verifier-key prints the "
        "key that verifies it; --new-key FILE writes a signing key (an existing file is kept)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--verifier-key", action="store_true", help="print the verifier key (signed-note form)")
        parser.add_argument("--new-key", metavar="FILE", help="write a new signing key to FILE, readable by you only")

    def handle(self, *args, verifier_key=False, new_key=None, **options):
        try:
            if new_key:
                self.stdout.write(checkpoints.new_signing_key(Path(new_key)).verifier().vkey())
                return
            if verifier_key:
                self.stdout.write(checkpoints.signer().verifier().vkey())
                return
            made = checkpoints.checkpoint_make()
        except checkpoints.CheckpointUnavailable as exc:
            raise CommandError(str(exc)) from None
        except checkpoints.CheckpointRefused as exc:
            self.stderr.write(f"Not signed: {exc}")
            raise SystemExit(1) from None
        latest = made or checkpoints.latest()
        if latest is None:
            raise CommandError("The audit log is empty: there is nothing to sign.")
        self.stdout.write(latest.note, ending="")
