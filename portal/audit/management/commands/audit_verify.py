"""Verify the audit log's hash chain: the database (against its recorded head), or an exported JSONL file."""

import json

from django.core.management.base import BaseCommand, CommandError

from portal.audit.chain import anchor_verdict, parse_anchor, verify
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
            "--partial",
            action="store_true",
            help="the file is a filtered export: check every event's hash, and the links between consecutive events",
        )
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="SEQ:HASH",
            help="a hash written down outside the database earlier (see --show-anchor); the event at SEQ must "
            "still have it, so a rewrite of the whole chain is found too. May be given more than once.",
        )
        parser.add_argument(
            "--show-anchor",
            action="store_true",
            help="after a good verification, print the last event's SEQ:HASH, to keep somewhere else",
        )

    def handle(self, *args, file=None, partial=False, anchor=(), show_anchor=False, **options):
        try:
            anchors = [parse_anchor(text) for text in anchor]
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if file:
            wanted = {seq for seq, _ in anchors}
            found: dict[int, str] = {}

            def rows():  # the file is read once: note the anchored events' hashes on the way
                for row in _file_rows(file, partial):
                    if row["seq"] in wanted:
                        found[row["seq"]] = row["hash"]
                    yield row

            try:
                verdict = anchor_verdict(verify(rows(), partial=partial), anchors, found)
            except OSError as exc:
                raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        else:
            verdict = audit_verify_database(anchors=anchors)
        if verdict.ok:
            self.stdout.write(verdict.message)
            if show_anchor and verdict.last_seq:
                self.stdout.write(f"anchor: {verdict.last_seq}:{verdict.last_hash}")
            return
        self.stderr.write(verdict.message)
        raise SystemExit(1)
