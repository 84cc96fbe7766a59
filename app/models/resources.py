"""Rows and columns of the images, volumes and networks tables (derived from engine JSON).

Each ``*_rows`` function joins the engine's list with the containers (for "in use",
"used by", member counts), which the app already has, so no extra calls are needed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from .. import format as fmt
from . import container_info
from .table import Column

Record = dict[str, Any]


# -- images -----------------------------------------------------------------------------
def split_tag(ref: str) -> tuple[str, str]:
    """``127.0.0.1:5000/app:v1`` → ``("127.0.0.1:5000/app", "v1")``."""
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, ""


def image_rows(images: list[Record], containers: list[Record]) -> list[Record]:
    """One row per tag (untagged images get one ``<none>`` row)."""
    usage = Counter(str(c.get("ImageID") or "") for c in containers)
    rows = []
    for img in images:
        tags = [t for t in (img.get("RepoTags") or []) if t and t != "<none>:<none>"]
        for ref in tags or ["<none>:<none>"]:
            repo, tag = split_tag(ref)
            rows.append(
                {
                    **img,
                    "_key": f"{img.get('Id')}|{ref}",
                    "_ref": ref if tags else str(img.get("Id") or ""),
                    "_repo": repo,
                    "_tag": tag,
                    "_in_use": usage.get(str(img.get("Id") or ""), 0),
                }
            )
    return rows


IMAGE_COLUMNS = [
    Column("Repository", lambda r: r["_repo"]),
    Column("Tag", lambda r: r["_tag"]),
    Column("Image ID", lambda r: fmt.short_id(r.get("Id"))),
    Column("Created", lambda r: fmt.ago(r.get("Created")), sort=lambda r: r.get("Created") or 0),
    Column(
        "Size", lambda r: fmt.size(r.get("Size")), sort=lambda r: r.get("Size") or 0, right=True
    ),
    Column(
        "In use",
        lambda r: (
            f"{r['_in_use']} container{'s' if r['_in_use'] != 1 else ''}" if r["_in_use"] else ""
        ),
        sort=lambda r: r["_in_use"],
    ),
]


# -- volumes ----------------------------------------------------------------------------
def volume_users(containers: list[Record]) -> dict[str, list[str]]:
    """Volume name → names of the containers that mount it."""
    users: dict[str, list[str]] = defaultdict(list)
    for c in containers:
        for m in c.get("Mounts") or []:
            if m.get("Type") == "volume" and m.get("Name"):
                users[m["Name"]].append(container_info.name(c))
    return users


def volume_rows(
    volumes: list[Record], sizes: dict[str, int], containers: list[Record]
) -> list[Record]:
    """Volumes with ``_size`` (from /system/df, -1 unknown) and ``_users``."""
    users = volume_users(containers)
    return [
        {**v, "_size": sizes.get(v["Name"], -1), "_users": sorted(users.get(v["Name"], []))}
        for v in volumes
    ]


VOLUME_COLUMNS = [
    Column("Name", lambda r: r["Name"]),
    Column("Driver", lambda r: str(r.get("Driver") or "")),
    Column("Size", lambda r: fmt.size(r["_size"]), sort=lambda r: r["_size"], right=True),
    Column(
        "Created",
        lambda r: fmt.ago(fmt.parse_time(r.get("CreatedAt"))),
        sort=lambda r: fmt.parse_time(r.get("CreatedAt")) or 0,
    ),
    Column("Used by", lambda r: ", ".join(r["_users"]), sort=lambda r: len(r["_users"])),
]


# -- networks ---------------------------------------------------------------------------
def network_members(containers: list[Record]) -> dict[str, list[str]]:
    """Network name → names of the containers attached to it."""
    members: dict[str, list[str]] = defaultdict(list)
    for c in containers:
        for net in ((c.get("NetworkSettings") or {}).get("Networks") or {}).keys():
            members[net].append(container_info.name(c))
    return members


def network_rows(networks: list[Record], containers: list[Record]) -> list[Record]:
    """Networks with ``_subnet``, ``_gateway`` and ``_members``."""
    members = network_members(containers)
    rows = []
    for n in networks:
        configs = (n.get("IPAM") or {}).get("Config") or []
        subnets = [str(c.get("Subnet")) for c in configs if c.get("Subnet")]
        gateways = [str(c.get("Gateway")) for c in configs if c.get("Gateway")]
        rows.append(
            {
                **n,
                "_subnet": ", ".join(subnets),
                "_gateway": ", ".join(gateways),
                "_members": sorted(members.get(n.get("Name", ""), [])),
            }
        )
    return rows


NETWORK_COLUMNS = [
    Column("Name", lambda r: str(r.get("Name") or "")),
    Column("Driver", lambda r: str(r.get("Driver") or "")),
    Column("Subnet", lambda r: r["_subnet"]),
    Column("Gateway", lambda r: r["_gateway"]),
    Column("Internal", lambda r: "yes" if r.get("Internal") else ""),
    Column(
        "Containers",
        lambda r: ", ".join(r["_members"]),
        sort=lambda r: len(r["_members"]),
        tooltip=lambda r: "\n".join(r["_members"]),
    ),
]
