"""SQLite persistence of container records (table ``container_containers``).

The record is one JSON document per container; id and name are real columns so the
database itself guarantees unique names, even if two creates race.
"""

from __future__ import annotations

import sqlite3

from ..errors import Conflict
from ..store.db import Database, dumps, loads
from .model import Container

SCHEMA = """
CREATE TABLE IF NOT EXISTS container_containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    data TEXT NOT NULL
);
"""


def name_conflict(name: str, other_id: str) -> Conflict:
    """Docker's exact message for a name already in use."""
    return Conflict(
        f'Conflict. The container name "/{name}" is already in use by container '
        f'"{other_id}". You have to remove (or rename) that container to be able to '
        "reuse that name."
    )


class ContainerStore:
    """Load, insert, update and delete container records."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)

    def load_all(self) -> list[Container]:
        """Every stored container, oldest first."""
        rows = self.db.query("SELECT data FROM container_containers ORDER BY created")
        return [Container.from_json(loads(r["data"])) for r in rows]

    def insert(self, c: Container) -> None:
        """Add a new record; a taken name is a 409 with Docker's message."""
        try:
            self.db.execute(
                "INSERT INTO container_containers (id, name, created, data) VALUES (?,?,?,?)",
                (c.id, c.name, c.created, dumps(c.to_json())),
            )
        except sqlite3.IntegrityError:
            row = self.db.one("SELECT id FROM container_containers WHERE name=?", (c.name,))
            raise name_conflict(c.name, row["id"] if row else "?") from None

    def save(self, c: Container) -> None:
        """Persist the current record (name changes included)."""
        try:
            self.db.execute(
                "UPDATE container_containers SET name=?, data=? WHERE id=?",
                (c.name, dumps(c.to_json()), c.id),
            )
        except sqlite3.IntegrityError:
            row = self.db.one("SELECT id FROM container_containers WHERE name=?", (c.name,))
            raise name_conflict(c.name, row["id"] if row else "?") from None

    def delete(self, cid: str) -> None:
        """Forget a container."""
        self.db.execute("DELETE FROM container_containers WHERE id=?", (cid,))
