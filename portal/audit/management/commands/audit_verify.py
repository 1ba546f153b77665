"""Verify the audit log's hash chain: the database (against its recorded head), or an exported JSONL file."""

import json

from django.core.management.base import BaseCommand, CommandError

from portal.audit.chain import verify
from portal.audit.services import audit_verify_database


def _file_rows(path: str, partial: bool):
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise CommandError(f"{path}:{number}: not JSON") from None
            if not isinstance(row, dict) or "seq" not in row or "hash" not in row:
                raise CommandError(f"{path}:{number}: not an exported audit event")
            yield row


class Command(BaseCommand):
    help = "Verify the audit chain; exit 1 naming the first bad event. --file checks an exported JSONL file."

    def add_arguments(self, parser):
        parser.add_argument("--file", help="an export made with the JSON Lines export")
        parser.add_argument(
            "--partial", action="store_true",
            help="the file is a filtered export: check every event's hash, and the links between consecutive events",
        )  # fmt: skip

    def handle(self, *args, file=None, partial=False, **options):
        if file:
            try:
                verdict = verify(_file_rows(file, partial), partial=partial)
            except OSError as exc:
                raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        else:
            verdict = audit_verify_database()
        if verdict.ok:
            self.stdout.write(verdict.message)
            return
        self.stderr.write(verdict.message)
        raise SystemExit(1)
