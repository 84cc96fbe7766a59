"""The build cache: "this step on this parent gave that image", kept in SQLite.

A step's key is a digest of what decides its result (the instruction as recorded in
history, the build args it sees, the content it copies); together with the parent image
it names the child image. Links whose image is gone are ignored and dropped. The
``build_parents`` table records each built image's parent, which is what makes an
intermediate image "intermediate" (listed only with ``images -a``) and lets prune free
the chain.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from ..store.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS build_cache (
    parent TEXT NOT NULL,
    key TEXT NOT NULL,
    image TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    last_used REAL NOT NULL,
    usage INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (parent, key)
);
CREATE TABLE IF NOT EXISTS build_kept (
    container TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS build_parents (
    image TEXT PRIMARY KEY,
    parent TEXT NOT NULL
);
"""


def step_key(**parts: Any) -> str:
    """A stable digest of what decides a step's result."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class BuildCache:
    """Cache links and parent links (the database is the only state)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.parents: dict[str, str] = {}

    def load(self) -> None:
        """Create the tables and read the parent links."""
        self.db.ensure_schema(SCHEMA)
        for row in self.db.query("SELECT image, parent FROM build_parents"):
            self.parents[row["image"]] = row["parent"]

    def lookup(self, parent: str, key: str) -> str | None:
        """The image this step gave last time on ``parent``, if recorded."""
        rows = self.db.query(
            "SELECT image FROM build_cache WHERE parent=? AND key=?", (parent, key)
        )
        return rows[0]["image"] if rows else None

    def used(self, parent: str, key: str) -> None:
        """Count a hit (shown by ``system df``)."""
        self.db.execute(
            "UPDATE build_cache SET last_used=?, usage=usage+1 WHERE parent=? AND key=?",
            (time.time(), parent, key),
        )

    def record(self, parent: str, key: str, image: str, description: str) -> None:
        """Remember a step's result and its parent."""
        now = time.time()
        with self.db.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO build_cache(parent, key, image, description, created,"
                " last_used, usage) VALUES (?,?,?,?,?,?,0)",
                (parent, key, image, description, now, now),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO build_parents(image, parent) VALUES (?,?)",
                (image, parent),
            )
        self.parents[image] = parent

    def keep_container(self, cid: str) -> None:
        """A RUN container left on purpose (failed step, or ``rm=0``): start-up keeps it."""
        self.db.execute("INSERT OR REPLACE INTO build_kept(container) VALUES (?)", (cid,))

    def kept_containers(self) -> set[str]:
        """Containers builds left on purpose."""
        return {r["container"] for r in self.db.query("SELECT container FROM build_kept")}

    def set_parent(self, image: str, parent: str) -> None:
        """Record an image's parent without a cache link (a squashed build)."""
        self.db.execute(
            "INSERT OR REPLACE INTO build_parents(image, parent) VALUES (?,?)", (image, parent)
        )
        self.parents[image] = parent

    def forget_missing(self, exists: Any) -> None:
        """Drop links to images that no longer exist."""
        gone = [i for i in self.parents if not exists(i)]
        rows = self.db.query("SELECT DISTINCT image FROM build_cache")
        gone_cache = [r["image"] for r in rows if not exists(r["image"])]
        if not gone and not gone_cache:
            return
        with self.db.transaction():
            for i in gone:
                self.db.execute("DELETE FROM build_parents WHERE image=?", (i,))
                self.parents.pop(i, None)
            for i in gone_cache:
                self.db.execute("DELETE FROM build_cache WHERE image=?", (i,))

    def entries(self) -> list[dict[str, Any]]:
        """Every cache link (for ``system df``)."""
        return [dict(r) for r in self.db.query("SELECT * FROM build_cache")]

    def clear(self) -> None:
        """Forget every cache link (prune)."""
        self.db.execute("DELETE FROM build_cache")

    def children(self) -> dict[str, list[str]]:
        """parent id → ids built on it."""
        out: dict[str, list[str]] = {}
        for child, parent in self.parents.items():
            out.setdefault(parent, []).append(child)
        return out
