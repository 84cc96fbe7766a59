"""The JSON shapes of image list, inspect and history, and the list filters."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from ..conventions import bool_filter, check_filters, label_match, parse_timestamp
from ..errors import InvalidParameter
from .catalog import Image, unix_time
from .reference import familiar_match

if TYPE_CHECKING:
    from .service import ImageService

LIST_FILTERS = {"dangling", "label", "before", "since", "reference", "until"}

_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


def filter_time(value: str) -> float:
    """An image filter's ``until`` (:func:`conventions.parse_timestamp`), with the 400
    dockerd gives images."""
    try:
        return parse_timestamp(value)
    except ValueError:
        raise InvalidParameter(f"failed to parse value {value!r} as a timestamp") from None


def summaries(
    svc: ImageService,
    images: list[Image],
    *,
    shared_size: bool = False,
    containers: bool = False,
    api: tuple[int, ...] = (1, 47),
    tags_of: dict[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """ImageSummary objects, newest first."""
    layer_users: Counter[str] = Counter()
    if shared_size:
        for img in svc.images():
            layer_users.update(set(img.diff_ids))
    out = []
    for img in sorted(images, key=lambda i: (i.created_unix, i.added), reverse=True):
        tags = tags_of[img.id] if tags_of is not None else img.repo_tags
        digests = img.repo_digests
        if not tags and not digests and api < (1, 43):
            tags, digests = ["<none>:<none>"], ["<none>@<none>"]
        summary: dict[str, Any] = {
            "Containers": len(svc.users(img.id)) if containers else -1,
            "Created": img.created_unix,
            "Id": img.id,
            "Labels": img.labels,
            "ParentId": svc.parent_of(img.id),
            "RepoDigests": list(digests),
            "RepoTags": list(tags),
            "SharedSize": -1,
            "Size": img.size,
        }
        if shared_size:
            summary["SharedSize"] = sum(
                svc.layers.size(d)
                for d in set(img.diff_ids)
                if layer_users[d] > 1 and svc.layers.has(d)
            )
        if api < (1, 44):
            summary["VirtualSize"] = img.size
        out.append(summary)
    return out


async def list_images(
    svc: ImageService,
    filters: dict[str, list[str]],
    *,
    all_: bool = False,
    shared_size: bool = False,
    api: tuple[int, ...] = (1, 47),
) -> list[dict[str, Any]]:
    """``GET /images/json``."""
    check_filters(filters, LIST_FILTERS)
    dangling = bool_filter(filters, "dangling")
    before = since = until = None
    if "before" in filters:
        before = min([(await svc.resolve(r)).created_unix for r in filters["before"]])
    if "since" in filters:
        since = max([(await svc.resolve(r)).created_unix for r in filters["since"]])
    if "until" in filters:
        until = min(filter_time(v) for v in filters["until"])
    patterns = filters.get("reference", [])
    chosen: list[Image] = []
    tags_of: dict[str, list[str]] = {}
    # An untagged image another was built on is an intermediate step, not dangling.
    intermediate = set() if all_ else svc.has_children()
    for img in svc.images():
        if img.id in intermediate and not img.repo_tags and not img.repo_digests:
            continue
        if before is not None and img.created_unix >= before:
            continue
        if since is not None and img.created_unix <= since:
            continue
        if until is not None and img.created_unix > until:
            continue
        if "label" in filters and not label_match(img.labels, filters["label"]):
            continue
        tags = img.repo_tags
        if patterns:
            tags = [
                t
                for t, r in zip(img.repo_tags, _tag_refs(img), strict=True)
                if any(familiar_match(p, r) for p in patterns)
            ]
            if not tags:
                continue
        if dangling is True and tags:
            continue
        if dangling is False and not tags and not img.repo_digests:
            continue
        tags_of[img.id] = tags
        chosen.append(img)
    return summaries(svc, chosen, shared_size=shared_size, api=api, tags_of=tags_of)


def _tag_refs(img: Image) -> list[str]:
    """Normalised tag references, in the order of ``img.repo_tags``."""
    from .reference import parse_reference

    return [r for r in img.refs if not parse_reference(r).digest]


def inspect_image(svc: ImageService, img: Image, api: tuple[int, ...] = (1, 47)) -> dict[str, Any]:
    """``GET /images/{name}/json`` (Docker's ImageInspect)."""
    cfg = img.config
    container_config = dict(_CONFIG_DEFAULTS)
    container_config.update(cfg.get("config") or {})
    dirs = [str(p) for p in svc.layer_dirs(img)]
    driver_data: dict[str, str] = {}
    if dirs:
        driver_data["UpperDir"] = dirs[0]
        if len(dirs) > 1:
            driver_data["LowerDir"] = ":".join(dirs[1:])
    out: dict[str, Any] = {
        "Id": img.id,
        "RepoTags": list(img.repo_tags),
        "RepoDigests": list(img.repo_digests),
        "Parent": svc.parent_of(img.id),
        "Comment": cfg.get("comment", ""),
        "Created": img.created or None,
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": container_config,
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Size": img.size,
        "GraphDriver": {"Name": "overlay2", "Data": driver_data},
        "RootFS": {"Type": "layers", "Layers": list(img.diff_ids)},
        "Metadata": {"LastTagTime": img.last_tag_time},
    }
    if cfg.get("variant"):
        out["Variant"] = cfg["variant"]
    if cfg.get("os.version"):
        out["OsVersion"] = cfg["os.version"]
    if api < (1, 44):
        out["VirtualSize"] = img.size
    if api < (1, 45):
        out["Container"] = cfg.get("container", "")
        out["ContainerConfig"] = dict(_CONFIG_DEFAULTS)
    return out


def history(svc: ImageService, img: Image) -> list[dict[str, Any]]:
    """``GET /images/{name}/history``: newest first, the top entry carries the id."""
    entries = img.config.get("history") or [{} for _ in img.diff_ids]
    out: list[dict[str, Any]] = []
    layer = 0
    for h in entries:
        size = 0
        if not h.get("empty_layer") and layer < len(img.diff_ids):
            d = img.diff_ids[layer]
            size = svc.layers.size(d) if svc.layers.has(d) else 0
            layer += 1
        out.append(
            {
                "Comment": h.get("comment", ""),
                "Created": int(unix_time(h.get("created"))),
                "CreatedBy": h.get("created_by", ""),
                "Id": "<missing>",
                "Size": size,
                "Tags": None,
            }
        )
    out.reverse()
    # Built images know their parents: each step's entry shows the image it made.
    current = img.id
    for entry in out:
        if not current:
            break
        entry["Id"] = current
        if current != img.id:
            entry["Tags"] = list(svc.image(current).repo_tags) or None
        current = svc.parent_of(current)
    if out:
        out[0]["Tags"] = list(img.repo_tags) or None
    return out
