"""A witness of the portal's audit log: a small program a second team runs, with no Django and no database.

It speaks c2sp.org/tlog-witness: the portal sends it each new signed checkpoint with a consistency proof from the
last one this witness cosigned (`POST /add-checkpoint`). It checks the log's signature, that the old size is the
one it holds, and the proof; only then does it keep the new checkpoint (atomically, in its state file) and answer
with its cosignature (c2sp.org/tlog-cosignature, Ed25519 with a timestamp). A rollback (an older or shorter tree)
or a fork (the same size with another root, or a tree that does not extend the one it holds) is refused and
written down, with the log's own signature, as evidence (`<state>.refused`). `GET /<sha256(origin)>/checkpoint`
serves the latest cosigned checkpoint to monitors.

    python -m portal.audit.witness new-key --name witness.example/w1 --key witness.key   # prints its vkey
    python -m portal.audit.witness vkey --key witness.key
    python -m portal.audit.witness serve --key witness.key --state witness.json --log <the portal's vkey> \\
        [--listen 127.0.0.1:7380]

The portal's verifier key is what `manage.py audit_checkpoint --verifier-key` prints; the witness's goes into the
portal's AUDIT_WITNESSES. Standard library and `cryptography` only.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import merkle, note

MAX_BODY = 64 * 1024
MAX_PROOF_LINES = 63
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    """What one witness knows: its key, the logs it watches (origin → their verifier keys), and its state file
    (origin → the latest checkpoint it cosigned). One lock, held across check and write, serialises every
    add-checkpoint of this process; an exclusive lock on `<state>.lock` serialises it with other processes."""

    def __init__(self, key: note.Signer, state: Path, logs: list[note.Verifier]) -> None:
        if key.kind != note.COSIGNATURE:
            raise note.NoteError("a witness's key is a cosigner key (type 0x04): make one with new-key")
        self.key, self.state = key, state
        self.logs: dict[str, list[note.Verifier]] = {}
        for log in logs:
            self.logs.setdefault(log.name, []).append(log)
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            return json.loads(self.state.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _write(self, state: dict) -> None:
        temporary = self.state.with_name(self.state.name + ".new")
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(state, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.state)

    def _refused(self, reason: str, signed: str) -> None:
        """Keep a refused checkpoint the log signed: it may prove the log misbehaved."""
        with open(self.state.with_name(self.state.name + ".refused"), "a", encoding="utf-8") as out:
            when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            out.write(json.dumps({"at": when, "reason": reason, "checkpoint": signed}) + "\n")
        print(f"witness: refused a checkpoint: {reason}", file=sys.stderr, flush=True)

    def add_checkpoint(self, body: str) -> Answer:
        """One add-checkpoint request (the body: `old N`, proof lines, a blank line, the signed checkpoint)."""
        head, sep, signed = body.partition("\n\n")
        lines = head.split("\n")
        old_line = re.fullmatch(r"old (0|[1-9][0-9]{0,18})", lines[0])
        if not sep or old_line is None or len(lines) - 1 > MAX_PROOF_LINES:
            return Answer(400, "The body is 'old N', up to 63 proof lines, a blank line, then the checkpoint.\n")
        try:
            proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
            text, _ = signed.split("\n\n", 1) if "\n\n" in signed else ("", "")
            origin, size, root = note.parse_checkpoint(text + "\n")
        except (ValueError, note.NoteError):
            return Answer(400, "The proof lines are base64 hashes and the checkpoint a signed c2sp checkpoint.\n")
        if any(len(h) != 32 for h in proof):
            return Answer(400, "Each proof line is one base64 SHA-256 hash.\n")
        if origin not in self.logs:
            return Answer(404, f"This witness does not watch the log {origin}.\n")
        try:
            note.open_note(signed, self.logs[origin])
        except note.NoteError as exc:
            return Answer(403, f"The checkpoint is not signed by the log's key: {exc}.\n")
        old = int(old_line.group(1))
        if old > size:
            return Answer(400, "The old size is larger than the checkpoint's.\n")
        with self._lock, open(self.state.with_name(self.state.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._advance(origin, old, size, root, proof, signed)

    def _advance(self, origin: str, old: int, size: int, root: bytes, proof: list[bytes], signed: str) -> Answer:
        state = self._read()
        held = state.get(origin, {"size": 0, "root": base64.b64encode(merkle.EMPTY_ROOT).decode()})
        if old != held["size"]:
            if size < held["size"]:
                self._refused(f"rollback: size {size} after {held['size']} was cosigned", signed)
            return Answer(409, f"{held['size']}\n", SIZE_TYPE)
        if size == 0 and root != merkle.EMPTY_ROOT:
            return Answer(422, "A tree of size 0 has the empty tree's root.\n")
        if old == 0 and proof:
            return Answer(422, "From size 0 the consistency proof is empty.\n")
        try:
            if old:
                merkle.verify_consistency(old, size, base64.b64decode(held["root"]), root, proof)
        except merkle.ProofError as exc:
            self._refused(f"fork: the tree of size {size} does not extend the cosigned {old}: {exc}", signed)
            return Answer(422, f"The checkpoint is not consistent with the cosigned tree of size {old}: {exc}.\n")
        text = signed.split("\n\n", 1)[0] + "\n"
        cosignature = self.key.signature_line(text, int(time.time()))
        state[origin] = {"size": size, "root": base64.b64encode(root).decode(), "checkpoint": signed + cosignature}
        self._write(state)
        return Answer(200, cosignature)

    def latest(self, origin_hash: str) -> Answer:
        """GET <origin hash>/checkpoint: the latest checkpoint cosigned for that log, with both signatures."""
        for origin, held in self._read().items():
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                return Answer(200, held["checkpoint"])
        return Answer(404, "This witness has cosigned no checkpoint of that log.\n")


def _handler(witness: Witness) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, answer: Answer) -> None:
            data = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = self.headers.get("Content-Length", "")
            if self.path.rstrip("/") != "/add-checkpoint":
                self._answer(Answer(404, "Not found.\n"))
            elif not length.isdigit() or int(length) > MAX_BODY:
                self._answer(Answer(413 if length.isdigit() else 411, "Send a body of at most 64 KiB.\n"))
            else:
                body = self.rfile.read(int(length))
                try:
                    self._answer(witness.add_checkpoint(body.decode("utf-8")))
                except UnicodeDecodeError:
                    self._answer(Answer(400, "The body is UTF-8 text.\n"))

        def do_GET(self) -> None:  # noqa: N802
            match = re.fullmatch(r"/([0-9a-f]{64})/checkpoint", self.path)
            self._answer(witness.latest(match.group(1)) if match else Answer(404, "Not found.\n"))

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            print(f"witness: {self.address_string()} {format % args}", file=sys.stderr, flush=True)

    return Handler


def _key(path: str) -> note.Signer:
    return note.Signer.from_text(Path(path).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.audit.witness", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("new-key", help="make a cosigner key and print its verifier key")
    made.add_argument("--name", required=True, help="the witness's name, e.g. witness.example.com/w1")
    made.add_argument("--key", required=True, help="the file to write (readable by its owner only)")
    shown = commands.add_parser("vkey", help="print the verifier key of a cosigner key")
    shown.add_argument("--key", required=True)
    serve = commands.add_parser("serve", help="answer add-checkpoint requests")
    serve.add_argument("--key", required=True)
    serve.add_argument("--state", required=True, help="the JSON file of what it has cosigned (made if missing)")
    serve.add_argument("--log", action="append", required=True, help="a log's verifier key (repeatable)")
    serve.add_argument("--listen", default="127.0.0.1:7380", help="HOST:PORT (port 0: any free one, printed)")
    args = parser.parse_args(argv)
    try:
        if args.command == "new-key":
            path = Path(args.key)
            if path.exists():
                parser.error(f"{path} exists: a witness keeps its key")
            key = note.Signer.generate(args.name, note.COSIGNATURE)
            path.touch(mode=0o600)
            path.write_text(key.text() + "\n", encoding="utf-8")
            print(key.verifier().vkey())
            return 0
        if args.command == "vkey":
            print(_key(args.key).verifier().vkey())
            return 0
        witness = Witness(_key(args.key), Path(args.state), [note.Verifier.from_vkey(v) for v in args.log])
    except (OSError, note.NoteError) as exc:
        print(f"witness: {exc}", file=sys.stderr)
        return 2
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), _handler(witness))
    print(f"witness: {witness.key.name} listening on http://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
