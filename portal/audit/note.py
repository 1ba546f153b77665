"""Signed notes (c2sp.org/signed-note, Ed25519) and transparency-log checkpoints (c2sp.org/tlog-checkpoint).

A note is text ending in a newline, a blank line, then signature lines `— <key name> base64(key ID ‖ signature)`.
The key ID is SHA-256(key name ‖ 0x0A ‖ type ‖ public key)[:4]; a verifier key is the text
`<name>+<key ID hex>+base64(type ‖ public key)`. Type 0x01 is a plain Ed25519 signature over the text (the log's);
type 0x04 a witness's timestamped cosignature (c2sp.org/tlog-cosignature): 8 bytes of big-endian POSIX time, then
Ed25519 over `cosignature/v1\ntime <T>\n` followed by the checkpoint's text. A checkpoint's text is the log's
origin, its tree size and its base64 root, one per line. Signing keys are kept in the form Go's
golang.org/x/mod/sumdb/note reads, `PRIVATE+KEY+<name>+<key ID hex>+base64(type ‖ 32-byte seed)` (a witness's with
type 0x04). Standard library and `cryptography` only: the witness and the offline verifiers use this module
without Django.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
COSIGNATURE = 0x04  # c2sp.org/tlog-cosignature, Ed25519 with a timestamp
MAX_SIGNATURES = 16
NAME = re.compile(r"^[^\s+]+$")


class NoteError(ValueError):
    """A note, key or checkpoint that is malformed, unsigned by a trusted key, or forged."""


def key_id(name: str, public: bytes, kind: int = ED25519) -> int:
    return struct.unpack(">I", hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4])[0]


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    name: str
    id: int
    public: Ed25519PublicKey
    kind: int = ED25519

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """A verifier key's text back (NoteError when it is not an Ed25519 one that checks out)."""
        parts = vkey.strip().split("+", 2)  # (base64 has + in it too)
        try:
            name, id_hex, encoded = parts
            material = base64.b64decode(encoded, validate=True)
            claimed = int(id_hex, 16) if len(id_hex) == 8 else -1
        except ValueError:
            raise NoteError("a verifier key is <name>+<key ID hex>+<base64 key>") from None
        if not NAME.match(name) or len(material) != 33 or material[0] not in (ED25519, COSIGNATURE):
            raise NoteError("not an Ed25519 verifier key (type 0x01) or cosigner key (type 0x04)")
        if key_id(name, material[1:], material[0]) != claimed:
            raise NoteError("the verifier key's ID does not match its name and key")
        return cls(name, claimed, Ed25519PublicKey.from_public_bytes(material[1:]), material[0])

    def vkey(self) -> str:
        return f"{self.name}+{self.id:08x}+{base64.b64encode(bytes([self.kind]) + _raw(self.public)).decode()}"

    def check(self, text: str, signature: bytes) -> int:
        """The time a signature of this key over `text` was made (0 for a plain one); NoteError if it is forged."""
        try:
            if self.kind == COSIGNATURE:
                if len(signature) != 72:
                    raise InvalidSignature
                timestamp = struct.unpack(">Q", signature[:8])[0]
                if timestamp >= 1 << 63:
                    raise InvalidSignature
                self.public.verify(signature[8:], cosigned_message(text, timestamp))
                return timestamp
            self.public.verify(signature, text.encode())
            return 0
        except InvalidSignature:
            raise NoteError(f"the signature of {self.name} does not verify: the note was changed") from None


@dataclass(frozen=True)
class Signer:
    name: str
    private: Ed25519PrivateKey
    kind: int = ED25519

    @classmethod
    def generate(cls, name: str, kind: int = ED25519) -> Signer:
        if not NAME.match(name):
            raise NoteError("a key name is non-empty, without spaces or +")
        return cls(name, Ed25519PrivateKey.generate(), kind)

    @classmethod
    def from_text(cls, text: str) -> Signer:
        """A signing key from its `PRIVATE+KEY+…` text (NoteError for anything else)."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not NAME.match(parts[2]):
            raise NoteError("a signing key is PRIVATE+KEY+<name>+<key ID hex>+<base64 key>")
        try:
            material = base64.b64decode(parts[4], validate=True)
        except ValueError:
            raise NoteError("the signing key's material is not base64") from None
        if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE):
            raise NoteError("not an Ed25519 signing key")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(material[1:]), material[0])
        if f"{signer.verifier().id:08x}" != parts[3].lower():
            raise NoteError("the signing key's ID does not match its name and key")
        return signer

    def text(self) -> str:
        seed = self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        encoded = base64.b64encode(bytes([self.kind]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier().id:08x}+{encoded}"

    def verifier(self) -> Verifier:
        public = self.private.public_key()
        return Verifier(self.name, key_id(self.name, _raw(public), self.kind), public, self.kind)

    def signature_line(self, text: str, timestamp: int = 0) -> str:
        """This key's signature line over `text`; a cosigner's carries `timestamp` (POSIX seconds, not 0)."""
        _check_text(text)
        if self.kind == COSIGNATURE:
            if not 0 < timestamp < 1 << 63:
                raise NoteError("a cosignature carries the time it was made")
            body = struct.pack(">Q", timestamp) + self.private.sign(cosigned_message(text, timestamp))
        else:
            body = self.private.sign(text.encode())
        return f"— {self.name} {base64.b64encode(struct.pack('>I', self.verifier().id) + body).decode()}\n"

    def sign(self, text: str) -> str:
        """The signed note of `text` (which must end in a newline)."""
        return f"{text}\n{self.signature_line(text)}"


def _check_text(text: str) -> None:
    if not text.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note's text ends in a newline and has no control characters")


def open_note(note: str, verifiers: list[Verifier]) -> tuple[str, list[Verifier]]:
    """The text of a signed note and the trusted keys whose signatures verified; NoteError when none did or one
    from a trusted key failed (signatures from unknown keys are ignored, as the spec says)."""
    text, signed = signatures_of(note, verifiers)
    if not signed:
        raise NoteError("no signature from a trusted key")
    return text, [verifier for verifier, _, _ in signed]


def signatures_of(note: str, verifiers: list[Verifier]) -> tuple[str, list[tuple[Verifier, int, str]]]:
    """The text of a signed note and, for each trusted key that signed it, the key, the signature's time (0 when
    it has none) and its line; NoteError when the note is malformed or a trusted key's signature fails."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note: text, a blank line, then signature lines")
    text += "\n"
    _check_text(text)
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    trusted = {(v.name, v.id): v for v in verifiers}
    good: list[tuple[Verifier, int, str]] = []
    for line in lines:
        match = re.fullmatch(r"— (\S+) (\S+)", line)
        if match is None:
            raise NoteError("a signature line is '— <key name> <base64 signature>'")
        try:
            raw = base64.b64decode(match.group(2), validate=True)
        except ValueError:
            raise NoteError("a signature is not base64") from None
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        verifier = trusted.get((match.group(1), struct.unpack(">I", raw[:4])[0]))
        if verifier is None:
            continue
        good.append((verifier, verifier.check(text, raw[4:]), line + "\n"))
    return text, good


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root) of a checkpoint's note text (extension lines are ignored)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
        raise NoteError("a checkpoint is an origin, a tree size and a root, one per line")
    origin, size, encoded = lines[:3]
    try:
        root = base64.b64decode(encoded, validate=True)
    except ValueError:
        root = b""
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size) or len(root) != 32:
        raise NoteError("a checkpoint's size is a decimal number and its root 32 bytes of base64")
    return origin, int(size), root
