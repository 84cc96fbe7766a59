"""Image metadata: images and their references, in SQLite with an in-memory index.

The config blob in the content store is the source of truth for an image; the row
keeps a parsed copy so listing never touches the disk. References are stored
normalised (``docker.io/library/busybox:latest``, ``host/x@sha256:…``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..conventions import ZERO_TIME, format_rfc3339, parse_rfc3339
from ..store.db import Database, dumps, loads
from .reference import parse_reference

SCHEMA = """
CREATE TABLE IF NOT EXISTS image_images (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    added REAL NOT NULL,
    last_tag_time TEXT,
    hidden INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS image_refs (
    ref TEXT PRIMARY KEY,
    image_id TEXT NOT NULL,
    is_digest INTEGER NOT NULL,
    added REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS image_refs_by_image ON image_refs(image_id);
"""


@dataclass
class Image:
    """An image as other services see it.

    ``repo_tags``/``repo_digests`` are in the familiar form Docker shows
    (``busybox:latest``); ``diff_ids`` are bottom-most first, as in the config.
    """

    id: str
    config: dict[str, Any]
    repo_tags: list[str]
    repo_digests: list[str]
    diff_ids: list[str]
    created: str
    size: int
    added: float = 0.0
    last_tag_time: str = ZERO_TIME
    hidden: bool = False
    refs: list[str] = field(default_factory=list)  # normalised references

    @property
    def short_id(self) -> str:
        """The 12-hex id Docker prints."""
        return self.id[7:19]

    @property
    def labels(self) -> dict[str, str]:
        """The image's labels (never None)."""
        return dict((self.config.get("config") or {}).get("Labels") or {})

    @property
    def created_unix(self) -> int:
        """``created`` as Unix seconds (0 when absent or malformed)."""
        return int(unix_time(self.created))


def unix_time(text: str | None) -> float:
    """Unix seconds of an image's RFC 3339 ``created``; 0 when absent or malformed
    (images from old or odd builders carry anything there)."""
    try:
        return parse_rfc3339(text or "")
    except ValueError:
        return 0.0


class ImageCatalog:
    """Rows of ``image_images`` and ``image_refs``, mirrored in dicts."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rows: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, str] = {}  # normalised ref -> image id

    def load(self) -> None:
        """Create tables and read everything into memory."""
        self.db.ensure_schema(SCHEMA)
        for row in self.db.query("SELECT * FROM image_images"):
            d = dict(row)
            d["config"] = loads(d["config"], {})
            self.rows[d["id"]] = d
        for row in self.db.query("SELECT ref, image_id FROM image_refs"):
            if row["image_id"] in self.rows:
                self.refs[row["ref"]] = row["image_id"]
            else:
                self.db.execute("DELETE FROM image_refs WHERE ref=?", (row["ref"],))

    # -- images ------------------------------------------------------------------------
    def add_image(self, image_id: str, config: dict[str, Any]) -> bool:
        """Record an image; True when it is new (a hidden one becomes visible again)."""
        row = self.rows.get(image_id)
        if row is not None:
            if row["hidden"]:
                row["hidden"] = 0
                self.db.execute("UPDATE image_images SET hidden=0 WHERE id=?", (image_id,))
            return False
        row = {
            "id": image_id,
            "config": config,
            "added": time.time(),
            "last_tag_time": None,
            "hidden": 0,
        }
        self.db.execute(
            "INSERT INTO image_images(id, config, added, last_tag_time, hidden) "
            "VALUES (?, ?, ?, NULL, 0)",
            (image_id, dumps(config), row["added"]),
        )
        self.rows[image_id] = row
        return True

    def remove_image(self, image_id: str) -> None:
        """Forget an image and every reference to it."""
        with self.db.transaction():
            self.db.execute("DELETE FROM image_refs WHERE image_id=?", (image_id,))
            self.db.execute("DELETE FROM image_images WHERE id=?", (image_id,))
        for ref in self.refs_of(image_id):
            del self.refs[ref]
        self.rows.pop(image_id, None)

    def hide(self, image_id: str) -> None:
        """Keep a force-deleted image that a container still uses, out of sight."""
        self.rows[image_id]["hidden"] = 1
        self.db.execute("UPDATE image_images SET hidden=1 WHERE id=?", (image_id,))

    def visible(self) -> list[str]:
        """Ids of images that are listed (not hidden)."""
        return [i for i, r in self.rows.items() if not r["hidden"]]

    # -- references --------------------------------------------------------------------
    def refs_of(self, image_id: str) -> list[str]:
        """Normalised references to ``image_id``, sorted."""
        return sorted(r for r, i in self.refs.items() if i == image_id)

    def set_ref(self, ref: str, image_id: str, touch: bool = False) -> str | None:
        """Point ``ref`` at ``image_id``; returns the image it was taken from, if any.

        ``touch`` records the time as the image's LastTagTime (Docker does this for
        ``tag``, ``import`` and ``commit``, not for ``load`` or ``pull``).
        """
        previous = self.refs.get(ref)
        is_digest = int(parse_reference(ref).digest is not None)
        self.db.execute(
            "INSERT OR REPLACE INTO image_refs(ref, image_id, is_digest, added) VALUES (?,?,?,?)",
            (ref, image_id, is_digest, time.time()),
        )
        self.refs[ref] = image_id
        if touch and not is_digest:
            stamp = format_rfc3339()
            self.rows[image_id]["last_tag_time"] = stamp
            self.db.execute("UPDATE image_images SET last_tag_time=? WHERE id=?", (stamp, image_id))
        return previous if previous != image_id else None

    def remove_ref(self, ref: str) -> str | None:
        """Delete a reference; returns the image id it pointed to."""
        image_id = self.refs.pop(ref, None)
        self.db.execute("DELETE FROM image_refs WHERE ref=?", (ref,))
        return image_id
