"""Build routes: ``POST /build`` (the classic builder), ``POST /build/prune``, and the
BuildKit endpoints answered with a refusal.

Like dockerd, the stream starts with the first message: an error before it (bad tag,
no Dockerfile, a hostile context, a parse error) is an ordinary HTTP error; an error
after it goes into the stream as ``errorDetail`` (with the exit code of a failed RUN,
which the CLI exits with).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from ..build import BuildOptions, StepFailed, check_platform, error_message, validate_tags
from ..errors import EngineError, InvalidParameter
from . import web
from .context import engine_of
from .http import ndjson_response, ok_json, qfilters, qint, qstr
from .router import Router

log = logging.getLogger(__name__)

BUILDKIT_REFUSED = (
    "BuildKit is not served by this engine: use the classic builder "
    "(set DOCKER_BUILDKIT=0, or COMPOSE_DOCKER_CLI_BUILD=0 for compose)"
)


def docker_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """dockerd's ``BoolValue``: anything but "", 0, no, false, none is true."""
    raw = request.query.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in ("", "0", "no", "false", "none")


def _json_param(request: web.Request, name: str, kind: type) -> Any:
    raw = qstr(request, name)
    if raw is None or raw.strip() in ("", "null"):
        return kind()
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise InvalidParameter(f"invalid {name}: {e}") from None
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise InvalidParameter(f"invalid {name}: expected a JSON {kind.__name__}")
    return value


def parse_options(request: web.Request) -> BuildOptions:
    """The query as a :class:`BuildOptions` (every error a 400 before any work)."""
    o = BuildOptions()
    o.tags = validate_tags(request.query.getall("t", []))
    o.dockerfile = qstr(request, "dockerfile") or "Dockerfile"
    o.quiet = docker_bool(request, "q")
    o.nocache = docker_bool(request, "nocache")
    o.pull = docker_bool(request, "pull")
    o.rm = docker_bool(request, "rm", True)
    o.forcerm = docker_bool(request, "forcerm")
    o.squash = docker_bool(request, "squash")
    cachefrom = _json_param(request, "cachefrom", list)
    o.cachefrom = [str(c) for c in cachefrom]
    for name in ("memory", "memswap", "cpushares", "cpuperiod", "cpuquota", "shmsize"):
        value = qint(request, name, 0) or 0
        if value < 0 and not (name == "memswap" and value == -1):
            raise InvalidParameter(f"invalid {name}: must not be negative")
        setattr(o, name, value)
    o.cpusetcpus = qstr(request, "cpusetcpus") or ""
    o.cpusetmems = qstr(request, "cpusetmems") or ""
    o.cgroupparent = qstr(request, "cgroupparent") or ""
    buildargs = _json_param(request, "buildargs", dict)
    for k, v in buildargs.items():
        if v is not None and not isinstance(v, str):
            raise InvalidParameter(f"invalid buildargs: value of {k} is not a string")
    o.buildargs = buildargs
    labels = _json_param(request, "labels", dict)
    o.labels = {str(k): str(v) for k, v in labels.items()}
    o.networkmode = qstr(request, "networkmode") or "default"
    hosts: list[str] = []
    for h in request.query.getall("extrahosts", []):
        hosts += [x for x in h.split(",") if x]
    o.extrahosts = hosts
    ulimits = _json_param(request, "ulimits", list)
    for u in ulimits:
        if not isinstance(u, dict) or not u.get("Name"):
            raise InvalidParameter("invalid ulimits: each needs a Name")
    o.ulimits = ulimits
    o.securityopt = [str(s) for s in _json_param(request, "securityopt", list)]
    isolation = qstr(request, "isolation") or ""
    if isolation not in ("", "default"):
        raise InvalidParameter(f"Unsupported isolation: {isolation!r}")
    o.target = qstr(request, "target") or ""
    o.platform = qstr(request, "platform") or ""
    if o.platform:
        check_platform(o.platform)
    o.outputs = qstr(request, "outputs") or ""
    # A URL or git context the engine fetches itself (the body is then not read).
    o.remote = qstr(request, "remote") or ""
    return o


def registry_config(request: web.Request) -> dict[str, Any]:
    """``X-Registry-Config``: base64url JSON of registry → credentials."""
    raw = request.headers.get("X-Registry-Config")
    if not raw or not raw.strip():
        return {}
    raw = raw.strip()
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        doc = json.loads(data or b"{}")
    except (binascii.Error, ValueError) as e:
        raise InvalidParameter(f"invalid X-Registry-Config header: {e}") from None
    return doc if isinstance(doc, dict) else {}


class _Stream:
    """The NDJSON answer, started by the first message."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.resp: web.StreamResponse | None = None

    async def write(self, obj: dict[str, Any]) -> None:
        if self.resp is None:
            self.resp = await ndjson_response(self.request)
        await self.resp.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")


async def build(request: web.Request) -> web.StreamResponse:
    """``POST /build``."""
    version = qstr(request, "version") or "1"
    if version != "1":
        raise InvalidParameter(BUILDKIT_REFUSED)
    options = parse_options(request)
    auth = registry_config(request)
    engine = engine_of(request)
    request.cancel_on_disconnect()
    out = _Stream(request)

    async def chunks() -> Any:
        while chunk := await request.content.readany():
            yield chunk

    try:
        await engine.builder.build(options, chunks(), out.write, auth)
    except StepFailed as e:
        if out.resp is None:
            raise
        await out.write(error_message(e.message, e.code))
    except EngineError as e:
        if out.resp is None:
            raise
        if e.status >= 500:
            log.error("build failed: %s", e.message)
        await out.write(error_message(e.message))
    except ConnectionError:
        log.info("build: client disconnected")
    if out.resp is None:
        out.resp = await ndjson_response(request)
    await out.resp.write_eof()
    return out.resp


async def build_prune(request: web.Request) -> web.Response:
    """``POST /build/prune``."""
    qfilters(request)
    return ok_json(await engine_of(request).builder.prune(docker_bool(request, "all")))


async def buildkit_refused(request: web.Request) -> web.Response:
    """``/session`` and ``/grpc``: BuildKit's endpoints, never upgraded."""
    raise InvalidParameter(BUILDKIT_REFUSED)


async def build_cancel(request: web.Request) -> web.Response:
    """``POST /build/cancel``: a build is cancelled by closing its connection."""
    return web.Response(status=200)


def register(r: Router) -> None:
    """Add the build routes."""
    r.post("/build", build)
    r.post("/build/prune", build_prune)
    r.post("/build/cancel", build_cancel)
    for path in ("/session", "/grpc"):
        for method in ("GET", "POST"):
            r.add(method, path, buildkit_refused)
