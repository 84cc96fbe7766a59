"""SQLite metadata store.

One connection, WAL journal, used from the event loop thread only. Metadata rows are
small and the database is local, so each statement takes microseconds; running them
inline avoids an executor hop on every API call (measured: faster start-up and
``docker ps`` than aiosqlite's thread). Bulk or slow work never goes through here.
Each service owns its tables and creates them with :meth:`Database.ensure_schema`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import changes
from ..errors import NoSpace
from .space import SpaceReserve

log = logging.getLogger(__name__)


def _is_full(e: sqlite3.OperationalError) -> bool:
    return getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


class Database:
    """The engine's metadata database (``<data-root>/portside.db``).

    A write that fails because the disk is full gives back the data root's space
    reserve (``space.py``) and is tried once more; when there is no reserve left it
    raises ``NoSpace`` (a 500 worded as Go's ENOSPC). A transaction cannot be replayed,
    so one that fails that way is rolled back and raises ``NoSpace`` with the reserve
    released: the client's retry finds room.
    """

    def __init__(self, path: Path, reserve: SpaceReserve | None = None) -> None:
        self.path = path
        self.reserve = reserve
        # Missing at start (a disk that filled while the engine was away): taken once
        # there is room.
        self._reserve_gone = reserve is not None and not reserve.held
        path.parent.mkdir(parents=True, exist_ok=True)
        # No statement cache: a cached statement keeps a copy of the values last bound to
        # it, so a container with a 30 MB label kept 30 MB alive per statement that wrote
        # it, long after its removal. Preparing these small statements again costs
        # microseconds.
        self.conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=0
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._depth = 0

    def ensure_schema(self, script: str) -> None:
        """Run idempotent ``CREATE ... IF NOT EXISTS`` statements."""
        self.conn.executescript(script)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException as e:
            self._rollback()
            if isinstance(e, sqlite3.OperationalError) and _is_full(e):
                self._release_reserve()
                raise NoSpace(str(self.path)) from e
            raise
        else:
            self._commit()
        finally:
            self._depth = 0
            changes.bump()
        self._retake_reserve()

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
            return
        except sqlite3.OperationalError as e:
            if not _is_full(e):
                self._rollback()
                raise
            if self._release_reserve() and self.conn.in_transaction:
                try:
                    self.conn.execute("COMMIT")
                    return
                except sqlite3.OperationalError as again:
                    if not _is_full(again):
                        self._rollback()
                        raise
            self._rollback()
            raise NoSpace(str(self.path)) from e

    def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (after SQLITE_FULL, for one).
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _release_reserve(self) -> bool:
        if self.reserve is None or not self.reserve.release():
            return False
        self._reserve_gone = True
        return True

    def _retake_reserve(self) -> None:
        if self._reserve_gone and self.reserve is not None:
            self.reserve.ensure_now_and_then()
            self._reserve_gone = not self.reserve.held

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """Run one statement (autocommits outside :meth:`transaction`)."""
        changes.bump()
        try:
            cursor = self.conn.execute(sql, params)
        except sqlite3.OperationalError as e:
            if not _is_full(e) or self._depth:
                raise  # inside a transaction, the transaction answers for it
            if not self._release_reserve():
                raise NoSpace(str(self.path)) from e
            try:
                cursor = self.conn.execute(sql, params)
            except sqlite3.OperationalError as again:
                if _is_full(again):
                    raise NoSpace(str(self.path)) from again
                raise
        if self._reserve_gone and not self._depth:
            self._retake_reserve()
        return cursor

    def tidy(self, sql: str, params: Any = ()) -> None:
        """A housekeeping write that may wait for a later start: on a full disk it is
        skipped with a warning, so that the engine always starts and can free space."""
        try:
            self.execute(sql, params)
        except NoSpace as e:
            log.warning("skipped until there is room (%s): %s", e.message, sql)

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        """All rows of a query."""
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        return self.conn.execute(sql, params).fetchone()

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.conn.close()


def dumps(value: Any) -> str:
    """Compact JSON for a metadata column."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(text: str | None, default: Any = None) -> Any:
    """Decode a JSON column, tolerating NULL."""
    return default if text is None else json.loads(text)
