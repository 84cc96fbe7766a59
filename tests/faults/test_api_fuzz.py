"""Schema-driven fuzzing of a real engine: values Docker's spec allows (and some it does
not) never make ``portsided`` answer 5xx in its own words, crash or log a traceback.

schemathesis turns each operation of Docker's Engine API spec into a Hypothesis
strategy; the requests go straight to the engine's unix socket. Path ids are mostly
swapped for objects that exist (a running and a stopped container, an exec, busybox,
a volume, a network), so the handlers behind the 404 are reached too.

Only operations that stay inside a throwaway engine are fuzzed: nothing that pulls,
pushes, builds, logs in or searches (those would leave loopback), nothing that streams
without end (attach streams, wait, events, logs follow), and create bodies lose host
binds and devices so no host path outside the engine's roots is mounted.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.core import NOT_SET
from schemathesis.generation import GenerationMode
from support.engine import PortsideEngine

REPO = Path(__file__).resolve().parents[2]
# CI keeps the reference spec beside the clone, read-only.
SPEC = REPO.parent / "shared" / "reference" / "docker-engine-api-v1.47.yaml"
if not SPEC.is_file():  # a worktree lives one level deeper than a clone
    SPEC = REPO.parents[1] / "shared" / "reference" / "docker-engine-api-v1.47.yaml"

# (method, path, examples): the examples budget keeps the whole run under 3 minutes on
# 2 cores; operations that start processes get fewer.
OPERATIONS = [
    ("POST", "/containers/create", 60),
    ("GET", "/containers/json", 25),
    ("GET", "/containers/{id}/json", 25),
    ("POST", "/containers/{id}/start", 30),
    ("POST", "/containers/{id}/stop", 20),
    ("POST", "/containers/{id}/restart", 20),
    ("POST", "/containers/{id}/kill", 30),
    ("POST", "/containers/{id}/update", 50),
    ("POST", "/containers/{id}/rename", 30),
    ("POST", "/containers/{id}/attach", 30),
    ("POST", "/containers/{id}/exec", 50),
    ("GET", "/exec/{id}/json", 15),
    ("HEAD", "/containers/{id}/archive", 25),
    ("GET", "/containers/{id}/archive", 25),
    ("PUT", "/containers/{id}/archive", 30),
    ("GET", "/images/json", 20),
    ("GET", "/images/{name}/json", 20),
    ("GET", "/images/{name}/history", 20),
    ("POST", "/images/{name}/tag", 40),
    ("GET", "/volumes", 20),
    ("POST", "/volumes/create", 40),
    ("GET", "/volumes/{name}", 15),
    ("GET", "/networks", 20),
    ("GET", "/networks/{id}", 20),
    ("POST", "/networks/create", 40),
    ("POST", "/networks/{id}/connect", 30),
    ("POST", "/networks/{id}/disconnect", 30),
    ("GET", "/info", 5),
    ("GET", "/version", 5),
    ("GET", "/_ping", 5),
    ("GET", "/system/df", 10),
]

# What a 5xx may never say: these are our own failures, not Docker's answers.
OWN_FAILURE = re.compile(
    r"Traceback|internal error|\b[A-Z][A-Za-z]*(Error|Exception)\b|object has no attribute"
    r"|not supported between instances|unhashable type|takes \d+ positional"
)
# 5xx answers dockerd itself gives for these operations (the runtime refusing a process).
DOCKER_5XX = re.compile(
    r"OCI runtime (create|exec|start) failed|failed to create task for container"
    r"|executable file not found|exec format error|permission denied"
)

# HostConfig fields that would let a fuzzed container touch the host itself.
HOST_REACHING = (
    "Binds",
    "Devices",
    "DeviceCgroupRules",
    "DeviceRequests",
    "Privileged",
    "CapAdd",
    "SecurityOpt",
    "CgroupParent",
    "Cgroup",
    "PidMode",
    "IpcMode",
    "UTSMode",
    "UsernsMode",
    "PortBindings",
    "PublishAllPorts",
    "VolumesFrom",
    "VolumeDriver",
    "Links",
    "Sysctls",
    "Runtime",
    "MaskedPaths",
    "ReadonlyPaths",
)

# Hypothesis draws short strings; these reach the limits of kernels, filesystems and
# parsers (a name longer than NAME_MAX, a number beyond int64, a non-ASCII digit).
HOSTILE_STRINGS = [
    "",
    "/" + "a" * 300,
    "a" * 5000,
    "/..",
    "9" * 30,
    "-1",
    "\u0663",
    "\x00",
    "ctrl-\u00e9",
]


def _string_slots(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every string inside a JSON value."""
    slots: list[tuple[Any, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(item, str):
            slots.append((value, key))
        elif isinstance(item, dict | list):
            slots.extend(_string_slots(item))
    return slots


def _plant(query: dict[str, Any], body: Any, slot: int, hostile: str | None) -> None:
    """Put one hostile string in place of a generated string value."""
    if hostile is None:
        return
    slots = _string_slots(query)
    if isinstance(body, dict | list):
        slots += _string_slots(body)
    if slots:
        container, key = slots[slot % len(slots)]
        container[key] = hostile


# A deeper search by hand: PORTSIDE_FUZZ_SCALE=10 multiplies every budget and
# PORTSIDE_FUZZ_RANDOM=1 draws new cases instead of the same reproducible ones.
SCALE = float(os.environ.get("PORTSIDE_FUZZ_SCALE", "1"))
DERANDOMIZE = os.environ.get("PORTSIDE_FUZZ_RANDOM") != "1"

_spec = schemathesis.openapi.from_path(str(SPEC))


class Targets:
    """The objects path ids point at, recreated when a fuzzed call removes or renames them."""

    def __init__(self, engine: PortsideEngine) -> None:
        self.engine = engine
        self.ids: dict[str, str] = {}

    def ensure(self) -> None:
        e = self.engine
        for name, cmd in (("fz-running", ["sleep", "600"]), ("fz-stopped", ["true"])):
            r = e.api("GET", f"/containers/{name}/json")
            if r.status_code == 200:
                self.ids[name] = r.json()["Id"]
                continue
            body = {"Image": "busybox", "Cmd": cmd, "HostConfig": {"Init": True}}
            r = e.api("POST", f"/containers/create?name={name}", json=body)
            assert r.status_code == 201, r.text
            self.ids[name] = r.json()["Id"]
        running = self.ids["fz-running"]
        if not e.api("GET", f"/containers/{running}/json").json()["State"]["Running"]:
            e.api("POST", f"/containers/{running}/start")
        r = e.api("POST", f"/containers/{running}/exec", json={"Cmd": ["true"]})
        if r.status_code == 201:
            self.ids["exec"] = r.json()["Id"]
        if e.api("GET", "/networks/fz-net").status_code != 200:
            e.api("POST", "/networks/create", json={"Name": "fz-net"})
        if e.api("GET", "/volumes/fz-vol").status_code != 200:
            e.api("POST", "/volumes/create", json={"Name": "fz-vol"})

    def choices(self, path: str) -> list[str]:
        if path.startswith("/exec/"):
            return [self.ids.get("exec", "")]
        if path.startswith("/containers/"):
            return [self.ids["fz-running"], self.ids["fz-stopped"], "fz-running"]
        if path.startswith("/images/"):
            return ["busybox", "busybox:latest"]
        if path.startswith("/volumes/"):
            return ["fz-vol"]
        if path.startswith("/networks/"):
            return ["fz-net", "bridge"]
        return []


def _confine(method: str, path: str, query: dict[str, Any], body: Any, pick: int = 0) -> None:
    """Keep a generated request inside the throwaway engine and inside the time budget."""
    if path == "/containers/create" and isinstance(body, dict):
        if pick < 3:
            # Three in four bodies name the loaded image, so the rest of it is looked at.
            body["Image"] = "busybox"
        host = body.get("HostConfig")
        if isinstance(host, dict):
            # No host path is mounted, no host device, namespace, cgroup or port shared:
            # these containers really run.
            for key in HOST_REACHING:
                host.pop(key, None)
            if host.get("NetworkMode") not in (None, "none", "bridge", "default"):
                host.pop("NetworkMode")
            if isinstance(host.get("Mounts"), list):
                host["Mounts"] = [
                    m
                    for m in host["Mounts"]
                    if not (isinstance(m, dict) and m.get("Type") not in ("volume", "tmpfs"))
                ]
    if path.endswith(("/stop", "/restart")) and "t" in query:
        # A grace period of minutes is valid but would only spend the budget waiting.
        try:
            if int(query["t"]) > 1:
                query["t"] = 1
        except (TypeError, ValueError):
            pass
    if path.endswith("/attach"):
        # A stream never ends by itself; logs-only attaches return at once.
        query["stream"] = "false"


def _send(sock: Path, case: Any, timeout: float = 20) -> httpx.Response:
    headers = {
        k: v for k, v in (case.headers or {}).items() if k.lower() not in ("content-length", "host")
    }
    kw: dict[str, Any] = {"params": case.query or {}, "headers": headers}
    body = case.body
    if body is not None and body is not NOT_SET:
        media = case.media_type or "application/json"
        if isinstance(body, bytes):
            kw["content"] = body
            headers.setdefault("Content-Type", media)
        else:
            # The spec lets some JSON bodies be sent as octet-stream; dockerd reads JSON.
            kw["content"] = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
    transport = httpx.HTTPTransport(uds=str(sock))
    with httpx.Client(transport=transport, base_url="http://portside", timeout=timeout) as c:
        return c.request(case.method.upper(), case.formatted_path, **kw)


def _judge(resp: httpx.Response, what: str, body: Any, failures: list[str]) -> None:
    """Record a 5xx that is not one of dockerd's own answers."""
    if resp.status_code < 500:
        return
    try:
        message = str(resp.json().get("message", resp.text))
    except (ValueError, AttributeError):
        message = resp.text
    if OWN_FAILURE.search(message) or not DOCKER_5XX.search(message):
        failures.append(f"{what} body={str(body)[:400]!r} → {resp.status_code} {message[:400]}")


@pytest.fixture(scope="module")
def targets(shared_engine: PortsideEngine) -> Iterator[Targets]:
    t = Targets(shared_engine)
    t.ensure()
    yield t


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "path", "examples"), OPERATIONS, ids=lambda v: str(v))
def test_hostile_values_never_fail_inside_the_engine(
    targets: Targets, method: str, path: str, examples: int
) -> None:
    engine = targets.engine
    operation = _spec[path][method]
    targets.ensure()
    choices = targets.choices(path)
    failures: list[str] = []
    log_start = len(engine.log())
    statuses: Counter[int] = Counter()
    # Values the spec allows, and values it forbids (a list where a string belongs, …).
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=cases,
        pick=st.integers(0, 3),
        slot=st.integers(0, 50),
        hostile=st.none() | st.sampled_from(HOSTILE_STRINGS),
    )
    def fuzz(case: Any, pick: int, slot: int, hostile: str | None) -> None:
        params = dict(case.path_parameters or {})
        # Three in four requests name an object that exists.
        for key in params:
            if pick < 3 and choices:
                params[key] = choices[pick % len(choices)]
        case.path_parameters = params
        query = dict(case.query or {})
        _plant(query, case.body, slot, hostile)
        _confine(method, path, query, case.body, pick)
        case.query = query
        try:
            resp = _send(engine.socket, case)
            statuses[resp.status_code] += 1
        except httpx.TimeoutException:
            failures.append(f"{case.method} {case.formatted_path} {query}: no answer in 20s")
            return
        _judge(resp, f"{case.method} {case.formatted_path} query={query}", case.body, failures)

    # A schema whose constraints cannot be violated has no negative cases; Hypothesis
    # then draws only the positive branch.
    fuzz()
    print(f"{method} {path}: statuses {dict(sorted(statuses.items()))}")
    assert engine.ping(), f"engine died:\n{engine.log()[-4000:]}"
    log = engine.log()[log_start:]
    assert "Traceback" not in log, log[log.find("Traceback") - 2000 :][:6000]
    assert not failures, "\n".join(failures[:10])


@pytest.mark.timeout(300)
def test_containers_made_from_hostile_configs_start_and_restart_cleanly(
    targets: Targets,
) -> None:
    """Create bodies that pass validation must not fail later, when the container runs."""
    engine = targets.engine
    operation = _spec["/containers/create"]["POST"]
    failures: list[str] = []
    log_start = len(engine.log())
    statuses: Counter[str] = Counter()
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=max(1, int(60 * SCALE)),
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=cases,
        own_command=st.booleans(),
        slot=st.integers(0, 200),
        hostile=st.none() | st.sampled_from(HOSTILE_STRINGS),
    )
    def fuzz(case: Any, own_command: bool, slot: int, hostile: str | None) -> None:
        body = case.body
        if not isinstance(body, dict):
            return
        _plant({}, body, slot, hostile)
        body["Image"] = "busybox"
        if not own_command:
            # Half the containers run something that exists, so restart has work to do.
            body["Entrypoint"] = None
            body["Cmd"] = ["sleep", "30"]
        _confine("POST", "/containers/create", {}, body)
        resp = engine.api("POST", "/containers/create", json=body)
        statuses[f"create {resp.status_code}"] += 1
        _judge(resp, "POST /containers/create", body, failures)
        if resp.status_code != 201:
            return
        cid = resp.json()["Id"]
        try:
            for step in ("start", "restart?t=0", "kill"):
                resp = engine.api("POST", f"/containers/{cid}/{step}")
                statuses[f"{step.split('?')[0]} {resp.status_code}"] += 1
                _judge(resp, f"POST /containers/{{id}}/{step}", body, failures)
        finally:
            engine.api("DELETE", f"/containers/{cid}?force=1&v=1")

    fuzz()
    print(f"create→start→restart→kill: {dict(sorted(statuses.items()))}")
    assert engine.ping(), f"engine died:\n{engine.log()[-4000:]}"
    log = engine.log()[log_start:]
    assert "Traceback" not in log, log[log.find("Traceback") - 2000 :][:6000]
    assert not failures, "\n".join(failures[:10])
