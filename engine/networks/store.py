"""SQLite persistence of networks, endpoints (= IP allocations) and sandboxes.

Tables are prefixed ``network_``. Rows hold JSON; the columns that need SQL's help
(unique names, unique addresses per network) are real columns with constraints, so two
concurrent allocations can never hand out one address even if the in-memory view lied.
"""

from __future__ import annotations

import sqlite3

from ..errors import Conflict
from ..store.db import Database, dumps, loads
from .model import Endpoint, Network, Sandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS network_networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS network_endpoints (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL,
    container_id TEXT NOT NULL,
    ip TEXT,
    data TEXT NOT NULL,
    UNIQUE (network_id, container_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS network_endpoints_ip
    ON network_endpoints (network_id, ip) WHERE ip IS NOT NULL;
CREATE TABLE IF NOT EXISTS network_sandboxes (
    container_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
"""


class NetworkStore:
    """CRUD over the network tables."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)

    # -- networks ----------------------------------------------------------------------
    def networks(self) -> list[Network]:
        """Every stored network."""
        rows = self.db.query("SELECT data FROM network_networks")
        return [Network.from_json(loads(r["data"])) for r in rows]

    def save_network(self, n: Network) -> None:
        """Insert or update a network (409 when another network has the name)."""
        try:
            self.db.execute(
                "INSERT INTO network_networks (id, name, data) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, data = excluded.data",
                (n.id, n.name, dumps(n.to_json())),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"network with name {n.name} already exists") from None

    def delete_network(self, network_id: str) -> None:
        """Forget a network."""
        self.db.execute("DELETE FROM network_networks WHERE id = ?", (network_id,))

    # -- endpoints ---------------------------------------------------------------------
    def endpoints(self) -> list[Endpoint]:
        """Every live endpoint."""
        rows = self.db.query("SELECT data FROM network_endpoints")
        return [Endpoint.from_json(loads(r["data"])) for r in rows]

    def insert_endpoint(self, ep: Endpoint) -> None:
        """Record an endpoint; 409 when its address is taken on that network."""
        try:
            self.db.execute(
                "INSERT INTO network_endpoints (id, network_id, container_id, ip, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (ep.id, ep.network_id, ep.container_id, ep.ip or None, dumps(ep.to_json())),
            )
        except sqlite3.IntegrityError as e:
            if "container_id" in str(e):
                raise Conflict(
                    f"endpoint with name {ep.container_name} already exists in network"
                ) from None
            raise Conflict(f"Address already in use: {ep.ip}") from None

    def update_endpoint(self, ep: Endpoint) -> None:
        """Rewrite an endpoint's JSON (its address never changes)."""
        self.db.execute(
            "UPDATE network_endpoints SET data = ? WHERE id = ?", (dumps(ep.to_json()), ep.id)
        )

    def delete_endpoint(self, endpoint_id: str) -> None:
        """Release an endpoint and its address."""
        self.db.execute("DELETE FROM network_endpoints WHERE id = ?", (endpoint_id,))

    # -- sandboxes ---------------------------------------------------------------------
    def sandboxes(self) -> list[Sandbox]:
        """Every recorded sandbox."""
        rows = self.db.query("SELECT data FROM network_sandboxes")
        return [Sandbox.from_json(loads(r["data"])) for r in rows]

    def save_sandbox(self, sb: Sandbox) -> None:
        """Insert or update a sandbox."""
        self.db.execute(
            "INSERT INTO network_sandboxes (container_id, data) VALUES (?, ?) "
            "ON CONFLICT(container_id) DO UPDATE SET data = excluded.data",
            (sb.container_id, dumps(sb.to_json())),
        )

    def delete_sandbox(self, container_id: str) -> None:
        """Forget a sandbox."""
        self.db.execute("DELETE FROM network_sandboxes WHERE container_id = ?", (container_id,))
