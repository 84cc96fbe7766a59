"""SQLite persistence for volumes (tables prefixed ``volume_``).

Three tables:

- ``volume_volumes``: one row per volume (name, driver, labels, options, creation time).
- ``volume_refs``: which containers reference which volume. Docker keeps this only in
  memory and rebuilds it from container configs at start; persisting it means the
  in-use check holds across engine restarts without the volume service having to read
  another area's tables.
- ``volume_plans``: each container's resolved mount plan (see :mod:`.mounts`), so the
  hook can mount at start exactly what was decided and validated at create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store.db import Database, dumps, loads

SCHEMA = """
CREATE TABLE IF NOT EXISTS volume_volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    created_at TEXT NOT NULL,
    labels TEXT NOT NULL,
    options TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS volume_refs (
    volume TEXT NOT NULL REFERENCES volume_volumes(name) ON DELETE CASCADE,
    container_id TEXT NOT NULL,
    PRIMARY KEY (volume, container_id)
);
CREATE INDEX IF NOT EXISTS volume_refs_by_container ON volume_refs(container_id);
CREATE TABLE IF NOT EXISTS volume_plans (
    container_id TEXT PRIMARY KEY,
    container_name TEXT NOT NULL,
    plan TEXT NOT NULL
);
"""


@dataclass
class VolumeRecord:
    """One volume's metadata row."""

    name: str
    driver: str
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)


def _record(row: Any) -> VolumeRecord:
    return VolumeRecord(
        name=row["name"],
        driver=row["driver"],
        created_at=row["created_at"],
        labels=loads(row["labels"], {}) or {},
        options=loads(row["options"], {}) or {},
    )


class VolumeStore:
    """Rows for volumes, their references and containers' mount plans."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)

    # -- volumes ---------------------------------------------------------------------
    def get(self, name: str) -> VolumeRecord | None:
        """The volume called ``name`` or None."""
        row = self.db.one("SELECT * FROM volume_volumes WHERE name=?", (name,))
        return _record(row) if row else None

    def all(self) -> list[VolumeRecord]:
        """Every volume, oldest first."""
        rows = self.db.query("SELECT * FROM volume_volumes ORDER BY created_at, name")
        return [_record(r) for r in rows]

    def insert(self, rec: VolumeRecord) -> bool:
        """Add a volume; False when the name is already taken (the row is kept)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO volume_volumes (name, driver, created_at, labels, options)"
            " VALUES (?,?,?,?,?)",
            (rec.name, rec.driver, rec.created_at, dumps(rec.labels), dumps(rec.options)),
        )
        return cur.rowcount == 1

    def delete(self, name: str) -> None:
        """Forget a volume (its references go with it)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM volume_refs WHERE volume=?", (name,))
            conn.execute("DELETE FROM volume_volumes WHERE name=?", (name,))

    # -- references ------------------------------------------------------------------
    def add_ref(self, volume: str, container_id: str) -> None:
        """Record that ``container_id`` uses ``volume`` (idempotent)."""
        self.db.execute(
            "INSERT OR IGNORE INTO volume_refs (volume, container_id) VALUES (?,?)",
            (volume, container_id),
        )

    def remove_ref(self, volume: str, container_id: str) -> None:
        """Drop one reference (idempotent)."""
        self.db.execute(
            "DELETE FROM volume_refs WHERE volume=? AND container_id=?", (volume, container_id)
        )

    def refs(self, volume: str) -> list[str]:
        """Ids of the containers referencing ``volume``."""
        rows = self.db.query(
            "SELECT container_id FROM volume_refs WHERE volume=? ORDER BY rowid", (volume,)
        )
        return [r["container_id"] for r in rows]

    def ref_counts(self) -> dict[str, int]:
        """Reference count per volume name (volumes without references are absent)."""
        rows = self.db.query("SELECT volume, COUNT(*) AS n FROM volume_refs GROUP BY volume")
        return {r["volume"]: r["n"] for r in rows}

    def volumes_of(self, container_id: str) -> list[str]:
        """Names of the volumes a container references."""
        rows = self.db.query(
            "SELECT volume FROM volume_refs WHERE container_id=? ORDER BY rowid", (container_id,)
        )
        return [r["volume"] for r in rows]

    # -- plans -----------------------------------------------------------------------
    def save_plan(self, container_id: str, container_name: str, plan: list[dict]) -> None:
        """Store (or replace) a container's mount plan."""
        self.db.execute(
            "INSERT INTO volume_plans (container_id, container_name, plan) VALUES (?,?,?)"
            " ON CONFLICT(container_id) DO UPDATE SET container_name=excluded.container_name,"
            " plan=excluded.plan",
            (container_id, container_name, dumps(plan)),
        )

    def plan(self, container_id: str) -> list[dict] | None:
        """A container's mount plan, or None when it has none."""
        row = self.db.one("SELECT plan FROM volume_plans WHERE container_id=?", (container_id,))
        return loads(row["plan"], []) if row else None

    def find_plan_owner(self, ref: str) -> str | None:
        """Resolve a container id, unique id prefix or (create-time) name to an id."""
        row = self.db.one("SELECT container_id FROM volume_plans WHERE container_id=?", (ref,))
        if row:
            return str(row["container_id"])
        row = self.db.one(
            "SELECT container_id FROM volume_plans WHERE container_name=?", (ref.lstrip("/"),)
        )
        if row:
            return str(row["container_id"])
        if len(ref) >= 1 and all(ch in "0123456789abcdef" for ch in ref):
            rows = self.db.query(
                "SELECT container_id FROM volume_plans WHERE container_id LIKE ?", (ref + "%",)
            )
            if len(rows) == 1:
                return str(rows[0]["container_id"])
        return None

    def delete_plan(self, container_id: str) -> None:
        """Forget a container's plan."""
        self.db.execute("DELETE FROM volume_plans WHERE container_id=?", (container_id,))
