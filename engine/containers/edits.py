"""Renaming and updating containers (resources, restart policy)."""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, EngineError, InvalidParameter
from . import create as create_mod
from .oci import spec_resources
from .registry import ContainerRegistry
from .runner import Runner
from .store import name_conflict


class Edits:
    """Rename and update: a part of :class:`ContainerService`, sharing its registry."""

    def __init__(self, registry: ContainerRegistry, runner: Runner) -> None:
        self.registry = registry
        self.runner = runner

    # -- rename / update -----------------------------------------------------------
    async def rename(self, ref: str, new_name: str) -> None:
        """``POST /containers/{id}/rename``."""
        c = self.registry.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        new = create_mod.validate_name(new_name)
        if new == c.name:
            raise Conflict("Renaming a container with the same name as its current name")
        other = self.registry.named(new)
        if other is not None:
            raise name_conflict(new, other.id)
        old = c.name
        c.name = new
        try:
            self.registry.store.save(c)
        except EngineError:
            c.name = old
            raise
        self.registry.emit_event(c, "rename", oldName="/" + old)

    async def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /containers/{id}/update``: resources and restart policy."""
        c = self.registry.get(ref)
        changes: dict[str, Any] = {}
        for key in (
            "Memory",
            "MemorySwap",
            "NanoCpus",
            "CpuShares",
            "PidsLimit",
            "CpuQuota",
            "CpuPeriod",
            "CpusetCpus",
            "CpusetMems",
            "BlkioWeight",
            "MemoryReservation",
        ):
            # The docker CLI sends every field, unset ones as 0 or "": as dockerd, only
            # values that are set change anything (PidsLimit is a pointer: 0 is a value).
            value = body.get(key)
            if value is not None and (key == "PidsLimit" or value not in (0, "")):
                changes[key] = value
        merged = {**c.host_config, **changes}
        create_mod.validate_resources(merged)
        if "RestartPolicy" in body and body["RestartPolicy"] is not None:
            policy = create_mod.validate_restart_policy(body["RestartPolicy"])
            if c.host_config.get("AutoRemove") and policy["Name"] != "no":
                raise InvalidParameter(
                    "Restart policy cannot be updated because AutoRemove is enabled for the "
                    "container"
                )
            merged["RestartPolicy"] = policy
        if c.running and changes:
            await self.runner.update(c, resources_of(changes))
        c.host_config = merged
        self.registry.store.save(c)
        self.registry.emit_event(c, "update")
        return {"Warnings": spec_resources.resource_warnings(changes)}


def resources_of(hc: dict[str, Any]) -> dict[str, Any]:
    """OCI ``linux.resources`` for ``runtime update`` from HostConfig fields."""
    res: dict[str, Any] = {}
    mem: dict[str, Any] = {}
    if "Memory" in hc:
        mem["limit"] = hc["Memory"] or -1
    if hc.get("MemorySwap"):
        mem["swap"] = hc["MemorySwap"]
    if hc.get("MemoryReservation"):
        mem["reservation"] = hc["MemoryReservation"]
    if mem:
        res["memory"] = mem
    cpu: dict[str, Any] = {}
    if hc.get("CpuShares"):
        cpu["shares"] = hc["CpuShares"]
    if hc.get("NanoCpus"):
        cpu["period"] = 100000
        cpu["quota"] = hc["NanoCpus"] * 100000 // 1_000_000_000
    if hc.get("CpuQuota"):
        cpu["quota"] = hc["CpuQuota"]
    if hc.get("CpuPeriod"):
        cpu["period"] = hc["CpuPeriod"]
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if cpu:
        res["cpu"] = cpu
    if "PidsLimit" in hc:
        limit = hc["PidsLimit"]
        res["pids"] = {"limit": limit if limit and limit > 0 else -1}
    if hc.get("BlkioWeight") and spec_resources.blkio_weight_supported():
        res["blockIO"] = {"weight": hc["BlkioWeight"]}
    return res
