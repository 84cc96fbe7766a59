"""What the engine knows about layers in registries (dockerd's "v2 metadata").

* ``dist_blobs``: diff-id → compressed blob digests seen for it (pulled, or made by
  compressing a loaded layer at push time), with media type and size, so a push can
  ask a registry about a blob without compressing the layer again.
* ``dist_blob_repos``: which repositories of which registry hold a blob, so a push
  can skip it ("Layer already exists") or mount it from a sibling repository.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store.db import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dist_blobs (
    diff_id    TEXT NOT NULL,
    digest     TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    PRIMARY KEY (diff_id, digest)
);
CREATE INDEX IF NOT EXISTS dist_blobs_digest ON dist_blobs (digest);
CREATE TABLE IF NOT EXISTS dist_blob_repos (
    digest   TEXT NOT NULL,
    registry TEXT NOT NULL,
    repo     TEXT NOT NULL,
    PRIMARY KEY (digest, registry, repo)
);
"""


@dataclass(frozen=True)
class KnownBlob:
    """A compressed (or plain) blob known to hold a layer."""

    diff_id: str
    digest: str
    media_type: str
    size: int


class BlobMap:
    """Reads and writes the two tables (owned by the distribution service)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(_SCHEMA)

    def add(self, diff_id: str, digest: str, media_type: str, size: int) -> None:
        """Remember that ``digest`` is a blob of layer ``diff_id``."""
        self.db.execute(
            "INSERT OR REPLACE INTO dist_blobs (diff_id, digest, media_type, size) "
            "VALUES (?, ?, ?, ?)",
            (diff_id, digest, media_type, size),
        )

    def blobs_for(self, diff_id: str) -> list[KnownBlob]:
        """Blobs known for a layer, newest first."""
        rows = self.db.query(
            "SELECT diff_id, digest, media_type, size FROM dist_blobs WHERE diff_id = ? "
            "ORDER BY rowid DESC",
            (diff_id,),
        )
        return [KnownBlob(r[0], r[1], r[2], r[3]) for r in rows]

    def seen_in(self, digest: str, registry: str, repo: str) -> None:
        """Remember that ``registry/repo`` holds ``digest``."""
        self.db.execute(
            "INSERT OR IGNORE INTO dist_blob_repos (digest, registry, repo) VALUES (?, ?, ?)",
            (digest, registry, repo),
        )

    def forget(self, digest: str, registry: str, repo: str) -> None:
        """The registry no longer has it (a HEAD said 404)."""
        self.db.execute(
            "DELETE FROM dist_blob_repos WHERE digest = ? AND registry = ? AND repo = ?",
            (digest, registry, repo),
        )

    def repos_with(self, digest: str, registry: str) -> list[str]:
        """Repositories of ``registry`` known to hold ``digest``."""
        rows = self.db.query(
            "SELECT repo FROM dist_blob_repos WHERE digest = ? AND registry = ? "
            "ORDER BY rowid DESC",
            (digest, registry),
        )
        return [r[0] for r in rows]
