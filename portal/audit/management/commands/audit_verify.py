"""Verify the audit log's hash chain: the database (against its recorded head), or an exported JSONL file."""

import contextlib
import json

from django.core.management.base import BaseCommand, CommandError

from portal.audit import checkpoints, merkle, note
from portal.audit.chain import anchor_verdict, parse_anchor, verify
from portal.audit.services import audit_verify_database
from portal.audit.verification import audit_tree


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


def _signed_root(path: str, vkeys: list[str]) -> tuple[int, bytes]:
    """(size, root) of a checkpoint file whose signature verifies (ValueError, with the reason, if not)."""
    try:
        verifiers = [note.Verifier.from_vkey(v) for v in vkeys] or [checkpoints.signer().verifier()]
        with open(path, encoding="utf-8") as handle:
            text, _ = note.open_note(handle.read(1_000_000), verifiers)
    except checkpoints.CheckpointUnavailable as exc:
        raise ValueError(f"{exc} Give the verifier key with --key.") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except (note.NoteError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    _origin, size, root = note.parse_checkpoint(text)
    if size == 0:
        raise ValueError(f"{path}: the checkpoint of an empty log proves nothing")
    return size, root


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
        parser.add_argument(
            "--root",
            action="append",
            default=[],
            metavar="SIZE:ROOT",
            help="a Merkle tree root kept outside the database earlier (see --show-root): the first SIZE events "
            "must still make it, so deleting the newest events or rewriting history with every hash recomputed is "
            "found. May be given more than once.",
        )
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="FILE",
            help="a signed checkpoint kept elsewhere (from /audit/checkpoint or AUDIT_CHECKPOINT_DIR): its signature "
            "is checked, then the log must still extend it, as for --root. May be given more than once.",
        )
        parser.add_argument(
            "--key",
            action="append",
            default=[],
            metavar="VKEY",
            help="the verifier key a --checkpoint must be signed with (default: the portal's own signing key's)",
        )
        parser.add_argument(
            "--show-root",
            action="store_true",
            help="after a good verification, print the whole log's tree as SIZE:ROOT (RFC 6962), to keep elsewhere",
        )

    def handle(self, *args, file=None, partial=False, anchor=(), show_anchor=False, root=(), show_root=False, **o):
        try:
            anchors = [parse_anchor(text) for text in anchor]
            roots = [merkle.parse_root(text) for text in root]
            roots += [_signed_root(path, o["key"]) for path in o["checkpoint"]]
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if partial and (roots or show_root):
            raise CommandError("a filtered export lacks events: --root and --show-root need the whole log")
        sizes = {size for size, _ in roots}
        if file:
            verdict, tree = self._file(file, partial, anchors, sizes)
        else:
            verdict = audit_verify_database(anchors=anchors)
            tree = audit_tree(up_to=verdict.last_seq or 0, sizes=sizes) if verdict.ok and (roots or show_root) else None
        problem = merkle.roots_verdict(tree[0], tree[1], roots) if verdict.ok and tree is not None else None
        if verdict.ok and problem is None:
            self.stdout.write(verdict.message)
            if show_anchor and verdict.last_seq:
                self.stdout.write(f"anchor: {verdict.last_seq}:{verdict.last_hash}")
            if show_root and tree is not None and tree[0].size:
                self.stdout.write(f"root: {merkle.root_text(tree[0].size, tree[0].root())}")
            return
        self.stderr.write(problem or verdict.message)
        raise SystemExit(1)

    def _file(self, file: str, partial: bool, anchors, sizes: set[int]):
        """The file's verdict, and its tree (None for a filtered export); the file is read once."""
        wanted = {seq for seq, _ in anchors}
        found: dict[int, str] = {}
        tree, roots_found = merkle.CompactRange(), {}

        def rows():  # note the anchored events' hashes, and grow the tree, on the way
            for row in _file_rows(file, partial):
                if row["seq"] in wanted:
                    found[row["seq"]] = row["hash"]
                if not partial:
                    with contextlib.suppress(ValueError):  # (a malformed hash: verify() names its event)
                        tree.append(merkle.chain_leaf(str(row["hash"])))
                    if tree.size in sizes:
                        roots_found[tree.size] = tree.root()
                yield row

        try:
            verdict = anchor_verdict(verify(rows(), partial=partial), anchors, found)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        return verdict, (None if partial or not verdict.ok else (tree, roots_found))
