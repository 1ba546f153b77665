"""The workers' doorbell: a task that is due now wakes an idle worker, instead of waiting out its poll interval.

A ring is only a hint. The task's row in the database is what gets it run: a ring that is lost (a worker busy or
not yet listening, a full socket buffer, a connection gone) costs that task one poll interval (WORKER_INTERVAL),
exactly what every task cost before there was a doorbell. A ring is sent when the transaction that enqueued the
task commits, so a worker woken by it finds the row, and a rolled-back task rings nobody.

- PostgreSQL: `NOTIFY portal_tasks` inside the enqueuing transaction (PostgreSQL delivers it at commit, once per
  transaction however many tasks it enqueued); each worker LISTENs on a connection of its own, so this works
  across hosts and containers.
- SQLite (one machine: `make run`, the benches): each idle worker holds a Unix datagram socket in a private folder
  named after the database file; a commit sends one byte to each socket there. A socket left by a killed worker
  refuses the byte and is removed.
- Any other database: no doorbell; workers poll, as before.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import select
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from django.db import connections, transaction
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend

logger = logging.getLogger(__name__)

CHANNEL = "portal_tasks"
DATABASE = "default"  # the task table's database (django_tasks_db's models live in the default one)


def _socket_folder(database_name: str) -> Path:
    """Short enough for a socket's path (about 100 bytes at most), private to the database file's users."""
    digest = hashlib.sha256(str(Path(database_name).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"portal-doorbell-{digest}"


def ring(*, using: str = DATABASE) -> None:
    """Wake the idle workers once the current transaction commits (at once outside one)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {CHANNEL}")
    elif connection.vendor == "sqlite" and not connection.is_in_memory_db():
        folder = _socket_folder(connection.settings_dict["NAME"])
        transaction.on_commit(lambda: _ring_sockets(folder), using=using, robust=True)


def _ring_sockets(folder: Path) -> None:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return  # no worker listens on this machine
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for name in names:
            path = folder / name
            try:
                sender.sendto(b"!", str(path))
            except ConnectionRefusedError:  # left by a worker that was killed
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            except OSError as exc:  # a full buffer: that worker has rings waiting already; anything else: a hint lost
                if exc.errno not in (errno.EAGAIN, errno.ENOENT):
                    logger.debug("doorbell %s: %s", path, exc)


def _on_enqueued(sender, task_result, **kwargs) -> None:
    if not issubclass(sender, DatabaseBackend):
        return
    run_after = task_result.task.run_after
    if run_after is None or run_after <= timezone.now():
        ring()


def connect() -> None:
    """Ring for every task enqueued on the database backend that is due now (called by the core app's ready)."""
    task_enqueued.connect(_on_enqueued, dispatch_uid="portal.core.doorbell")


class Listener:
    """A worker's ear: `wait(seconds)` returns early when a ring comes; without a doorbell it simply sleeps. A
    doorbell that fails (PostgreSQL restarted) is opened again at the next wait; meanwhile the worker polls."""

    def __init__(self, *, using: str = DATABASE) -> None:
        self._using = using
        self._pg: Any = None  # a connection of its own (Django's may be closed between tasks)
        self._socket: socket.socket | None = None
        self._path: Path | None = None
        self.kind = {"postgresql": "PostgreSQL LISTEN", "sqlite": "a Unix socket"}.get(connections[using].vendor, "")

    def __enter__(self) -> Listener:
        connection = connections[self._using]
        if connection.vendor == "postgresql":
            self._listen()
        elif connection.vendor == "sqlite" and not connection.is_in_memory_db():
            self._bind(_socket_folder(connection.settings_dict["NAME"]))
        else:
            self.kind = ""
        return self

    def _bind(self, folder: Path) -> None:
        self._path = folder / f"{os.getpid()}-{threading.get_ident()}"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        for _attempt in range(3):  # (the last worker to leave removes the folder: it may go just then)
            folder.mkdir(mode=0o700, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()  # an earlier process with this pid
            try:
                self._socket.bind(str(self._path))
                return
            except FileNotFoundError:
                continue
        self._socket.close()
        self._socket = self._path = None
        logger.warning("doorbell: cannot listen in %s; polling", folder)

    def __exit__(self, *exc_info) -> None:
        self._close_pg()
        if self._socket is not None:
            self._socket.close()
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            with contextlib.suppress(OSError):  # the last one out (a folder that still holds sockets stays)
                self._path.parent.rmdir()

    def _listen(self) -> None:
        try:
            self._pg = psycopg.connect(**connections[self._using].get_connection_params(), autocommit=True)
            self._pg.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            logger.warning("doorbell: cannot LISTEN (%s); polling until it can", exc)
            self._close_pg()

    def _close_pg(self) -> None:
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.close()
            self._pg = None

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for a ring; True when one came. Rings that came together count as one."""
        if self.kind == "PostgreSQL LISTEN":
            return self._wait_pg(seconds)
        if self._socket is None:
            time.sleep(seconds)
            return False
        ready, _, _ = select.select([self._socket], [], [], seconds)
        with contextlib.suppress(BlockingIOError):
            while self._socket.recv(64):
                pass
        return bool(ready)

    def _wait_pg(self, seconds: float) -> bool:
        if self._pg is None:  # deaf since the connection was lost: listen again, and have the caller look now
            self._listen()  # (a task enqueued while it was deaf rang nobody)
            if self._pg is None:
                time.sleep(seconds)
            return False
        try:
            rang = any(True for _ in self._pg.notifies(timeout=seconds, stop_after=1))
            for _ in self._pg.notifies(timeout=0):
                pass
            return rang
        except psycopg.Error as exc:
            logger.warning("doorbell: LISTEN connection lost (%s); polling until it is back", exc)
            self._close_pg()
            return False
