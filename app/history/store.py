"""The history database: per-second samples for an hour, per-minute averages for a week.

Blocking SQLite work; callers run it on one worker thread (see :mod:`.recorder`). Values
are stored as integers (CPU in hundredths of a percent, bytes and bytes per second) in
``WITHOUT ROWID`` tables keyed by (series, time): SQLite's variable-length integers
make a row about 25 bytes, so 50 containers × 7 days of minutes fit in ~15 MB. The
file is still bounded by ``max_bytes`` whatever the number of series: when it grows
past it, the oldest minutes go first (``auto_vacuum=INCREMENTAL`` returns the pages).
"""

from __future__ import annotations

import csv
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

FINE_STEP = 1
COARSE_STEP = 60
FINE_KEEP = 3600  # seconds of 1 s samples
COARSE_KEEP = 7 * 86400  # seconds of 1 min averages
DEFAULT_MAX_BYTES = 50 * 1000 * 1000
# A minute is averaged once its last second is this old (late samples still count).
SETTLE = 5

#: Metric names, in column order, with what a CSV header calls them.
METRICS = ("cpu", "mem", "rx", "tx", "read", "write")
CSV_HEADER = (
    "time",
    "cpu_percent",
    "memory_bytes",
    "net_rx_bytes_per_s",
    "net_tx_bytes_per_s",
    "disk_read_bytes_per_s",
    "disk_write_bytes_per_s",
)
_COLS = "cpu, mem, rx, tx, rd, wr"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    engine TEXT NOT NULL DEFAULT '',
    removed REAL
);
CREATE TABLE IF NOT EXISTS fine (
    series INTEGER NOT NULL, t INTEGER NOT NULL, {_COLS},
    PRIMARY KEY (series, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coarse (
    series INTEGER NOT NULL, t INTEGER NOT NULL, {_COLS},
    PRIMARY KEY (series, t)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS coarse_t ON coarse (t);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Row:
    """One point: wall-clock ``t`` (epoch seconds) and the six metrics.

    ``cpu`` is percent of one CPU, ``mem`` bytes, the rest bytes per second.
    """

    t: float
    cpu: float
    mem: float
    rx: float
    tx: float
    read: float
    write: float

    def value(self, metric: str) -> float:
        """The metric called ``metric`` (one of :data:`METRICS`)."""
        return float(getattr(self, metric))


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A recorded series: a container (key = its ID), an engine or this computer.

    ``engine`` is where a container ran (the engine's address), so switching engines
    does not make another engine's containers look removed.
    """

    key: str
    name: str
    kind: str
    engine: str
    removed: float | None
    last: float | None


def _encode(r: Row) -> tuple[int, ...]:
    return (
        int(r.t),
        round(r.cpu * 100),
        round(r.mem),
        round(r.rx),
        round(r.tx),
        round(r.read),
        round(r.write),
    )


def _decode(values: Sequence[float]) -> Row:
    t, cpu, mem, rx, tx, rd, wr = values
    return Row(float(t), cpu / 100.0, float(mem), float(rx), float(tx), float(rd), float(wr))


class HistoryStore:
    """One SQLite file of history. Not thread-safe: use it from one thread at a time."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # auto_vacuum only takes effect before the first table exists.
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA journal_size_limit=4000000")
        self._db.executescript(_SCHEMA)
        self._ids: dict[str, int] = {}

    def close(self) -> None:
        """Checkpoint and close."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    # -- series --------------------------------------------------------------------------
    def series_id(self, key: str, name: str = "", kind: str = "container", engine: str = "") -> int:
        """The id of series ``key``, created (or renamed, or revived) as needed."""
        sid = self._ids.get(key)
        if sid is not None and not name:
            return sid
        row = self._db.execute(
            "SELECT id, name, removed FROM series WHERE key=?", (key,)
        ).fetchone()
        if row is None:
            cur = self._db.execute(
                "INSERT INTO series (key, name, kind, engine) VALUES (?, ?, ?, ?)",
                (key, name or key, kind, engine),
            )
            sid = int(cur.lastrowid or 0)
        else:
            sid = int(row[0])
            if (name and name != row[1]) or row[2] is not None:
                self._db.execute(
                    "UPDATE series SET name=?, removed=NULL WHERE id=?", (name or row[1], sid)
                )
        self._ids[key] = sid
        return sid

    def series(self) -> list[SeriesInfo]:
        """Every recorded series: this computer, the engine, then containers by name."""
        rows = self._db.execute(
            "SELECT key, name, kind, engine, removed, "
            "max(ifnull((SELECT max(t) FROM fine WHERE series=s.id), 0), "
            "ifnull((SELECT max(t) FROM coarse WHERE series=s.id), 0)) FROM series s"
        ).fetchall()
        out = [
            SeriesInfo(k, n, kind, eng, rm, float(last) if last else None)
            for k, n, kind, eng, rm, last in rows
        ]
        return sorted(out, key=lambda s: ({"host": 0, "engine": 1}.get(s.kind, 2), s.name))

    def mark_removed(self, keys: Iterable[str], when: float | None = None) -> None:
        """Containers that no longer exist: their history stays until :meth:`prune_removed`."""
        when = time.time() if when is None else when
        self._db.executemany(
            "UPDATE series SET removed=? WHERE key=? AND removed IS NULL",
            [(when, k) for k in keys],
        )

    def prune_removed(self) -> int:
        """Forget the history of removed containers; returns how many were forgotten."""
        ids = [r[0] for r in self._db.execute("SELECT id FROM series WHERE removed IS NOT NULL")]
        with self._tx():
            for sid in ids:
                self._delete_series(sid)
        self._ids = {k: v for k, v in self._ids.items() if v not in ids}
        self._vacuum()
        return len(ids)

    def forget(self, key: str) -> None:
        """Forget one series entirely."""
        row = self._db.execute("SELECT id FROM series WHERE key=?", (key,)).fetchone()
        if row:
            with self._tx():
                self._delete_series(int(row[0]))
            self._ids.pop(key, None)

    def _delete_series(self, sid: int) -> None:
        self._db.execute("DELETE FROM fine WHERE series=?", (sid,))
        self._db.execute("DELETE FROM coarse WHERE series=?", (sid,))
        self._db.execute("DELETE FROM series WHERE id=?", (sid,))

    # -- writing -------------------------------------------------------------------------
    def add(self, samples: Iterable[tuple[str, Row]]) -> None:
        """Record 1 s samples ``(series key, row)`` (a repeated second replaces the first)."""
        rows = [(self.series_id(key), *_encode(r)) for key, r in samples]
        with self._tx():
            self._db.executemany(f"INSERT OR REPLACE INTO fine VALUES (?, ?, {_COLS_Q})", rows)

    def add_minutes(self, samples: Iterable[tuple[str, Row]]) -> None:
        """Record 1 min averages directly (imports, benchmarks, tests of a week)."""
        rows = [(self.series_id(key), *_encode(r)) for key, r in samples]
        with self._tx():
            self._db.executemany(f"INSERT OR REPLACE INTO coarse VALUES (?, ?, {_COLS_Q})", rows)

    def compact(self, now: float | None = None) -> None:
        """Average finished minutes into the week table, drop what is past keeping, and
        keep the file under ``max_bytes``."""
        now = time.time() if now is None else now
        until = int(now - SETTLE) // COARSE_STEP * COARSE_STEP
        since = self._meta("compacted_until", 0)
        with self._tx():
            if until > since:
                self._db.execute(
                    "INSERT OR REPLACE INTO coarse SELECT series, t / 60 * 60 AS m, "
                    "CAST(round(avg(cpu)) AS INTEGER), CAST(round(avg(mem)) AS INTEGER), "
                    "CAST(round(avg(rx)) AS INTEGER), CAST(round(avg(tx)) AS INTEGER), "
                    "CAST(round(avg(rd)) AS INTEGER), CAST(round(avg(wr)) AS INTEGER) "
                    "FROM fine WHERE t >= ? AND t < ? GROUP BY series, m",
                    (since, until),
                )
                self._set_meta("compacted_until", until)
            self._db.execute("DELETE FROM fine WHERE t < ?", (int(now) - FINE_KEEP,))
            self._db.execute("DELETE FROM coarse WHERE t < ?", (int(now) - COARSE_KEEP,))
            # A removed container whose every point aged out has nothing left to show.
            self._db.execute(
                "DELETE FROM series WHERE removed IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM fine WHERE series=series.id) "
                "AND NOT EXISTS (SELECT 1 FROM coarse WHERE series=series.id)"
            )
        self._ids.clear()
        self._vacuum()
        self.enforce_bound()

    def used_bytes(self) -> int:
        """Bytes of the database holding data (pages in use)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def disk_bytes(self) -> int:
        """Bytes on disk: the database file and its write-ahead log."""
        total = 0
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def enforce_bound(self) -> None:
        """Drop the oldest points until the database fits in ~90 % of ``max_bytes``
        (the rest is headroom for the log)."""
        target = int(self.max_bytes * 0.9)
        for _ in range(64):
            if self.used_bytes() <= target:
                break
            oldest, newest = self._db.execute("SELECT min(t), max(t) FROM coarse").fetchone()
            with self._tx():
                if oldest is not None and newest > oldest:
                    cut = oldest + max(COARSE_STEP, (newest - oldest) // 10)
                    self._db.execute("DELETE FROM coarse WHERE t < ?", (cut,))
                else:
                    self._db.execute("DELETE FROM coarse")
                    first, last = self._db.execute("SELECT min(t), max(t) FROM fine").fetchone()
                    if first is None:
                        break
                    cut = first + max(FINE_STEP, (last - first) // 10)
                    self._db.execute("DELETE FROM fine WHERE t < ?", (cut,))
            self._vacuum()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reading -------------------------------------------------------------------------
    def query(self, key: str, start: float, end: float, max_points: int = 1500) -> list[Row]:
        """Points of ``key`` between ``start`` and ``end``, at most about ``max_points``:
        1 s samples where they exist, minute averages before, averaged into wider
        buckets for long ranges."""
        row = self._db.execute("SELECT id FROM series WHERE key=?", (key,)).fetchone()
        if row is None:
            return []
        sid = int(row[0])
        start_i, end_i = int(start), math.ceil(end)
        span = max(end_i - start_i, 1)
        bucket = max(FINE_STEP, math.ceil(span / max_points))
        split = self._meta("compacted_until", 0)
        first_fine = self._db.execute(
            "SELECT min(t) FROM fine WHERE series=? AND t >= ?", (sid, start_i)
        ).fetchone()[0]
        # Minutes cover what the seconds no longer do; seconds cover the rest.
        if first_fine is not None:
            split = min(max(split, first_fine), end_i + 1) if span > FINE_KEEP else first_fine
        else:
            split = end_i + 1
        coarse_bucket = max(COARSE_STEP, math.ceil(bucket / COARSE_STEP) * COARSE_STEP)
        out = self._bucketed("coarse", sid, start_i, min(split, end_i + 1), coarse_bucket)
        if first_fine is not None:
            out += self._bucketed("fine", sid, max(split, start_i), end_i + 1, bucket)
        return out

    def _bucketed(self, table: str, sid: int, lo: int, hi: int, bucket: int) -> list[Row]:
        if hi <= lo:
            return []
        if bucket <= (FINE_STEP if table == "fine" else COARSE_STEP):
            cur = self._db.execute(
                f"SELECT t, {_COLS} FROM {table} WHERE series=? AND t >= ? AND t < ? ORDER BY t",
                (sid, lo, hi),
            )
        else:
            cur = self._db.execute(
                f"SELECT t / ? * ? AS b, avg(cpu), avg(mem), avg(rx), avg(tx), avg(rd), avg(wr) "
                f"FROM {table} WHERE series=? AND t >= ? AND t < ? GROUP BY b ORDER BY b",
                (bucket, bucket, sid, lo, hi),
            )
        return [_decode(r) for r in cur]

    def export_csv(
        self, key: str, out: TextIO, start: float = 0.0, end: float | None = None
    ) -> int:
        """Write the full-resolution history of ``key`` as CSV (UTC ISO 8601 times);
        returns the number of data rows."""
        end = time.time() if end is None else end
        rows = self.query(key, start, end, max_points=10**12)
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        for r in rows:
            writer.writerow(
                (
                    datetime.fromtimestamp(r.t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    f"{r.cpu:.2f}",
                    int(r.mem),
                    int(r.rx),
                    int(r.tx),
                    int(r.read),
                    int(r.write),
                )
            )
        return len(rows)

    # -- internals -----------------------------------------------------------------------
    def _meta(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _vacuum(self) -> None:
        # Through sqlite3_exec: a plain execute() steps the pragma once, freeing one page.
        self._db.executescript("PRAGMA incremental_vacuum;")

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


_COLS_Q = ", ".join("?" for _ in METRICS)


class _Transaction:
    """``BEGIN``…``COMMIT`` (``ROLLBACK`` on error) in autocommit mode."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
