"""Remote build contexts: ``remote=`` on ``POST /build``, fetched by the engine.

What dockerd's ``remotecontext.Detect`` takes, with its wording and statuses:

- an http(s) URL (not ending in ``.git``): a tarball in any compression the upload path
  sniffs, streamed through the same decompressor into the build's private directory;
  or, when the answer is text (``text/plain``, or an octet-stream/untyped answer whose
  first bytes look like text), a Dockerfile with an empty context;
- a git URL (``git://``, ``git@…``, ``github.com/…``, or http(s) ending in ``.git``),
  with dockerd's ``#ref:subdir`` fragment: ``git init`` + ``fetch --depth 1`` (no depth
  from a "dumb" http server, as dockerd decides) + checkout into the build's private
  directory, then packed as the context. Without a ref the remote's HEAD is fetched
  (dockerd asks for ``master``, which fails on repositories without one).

``file://`` URLs and host paths are refused ("could not be recognized as URL"), as
dockerd does: a request must not make the engine read its own file system. Git runs
with dockerd's protections (no file transport, no user-chosen transports, no system or
user git config, never a credential prompt).

Both are bounded: :data:`REMOTE_TIMEOUT` for the whole fetch and :data:`REMOTE_LIMIT`
bytes on disk (the uncompressed tar, or the checkout while git writes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import stat
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import (
    EngineError,
    Forbidden,
    InvalidParameter,
    NotFound,
    SystemError_,
    Unauthorized,
)
from ..fs.pathresolve import RootView
from . import context as ctx
from .sources import TarSource

REMOTE_TIMEOUT = 600.0
REMOTE_LIMIT = 4 << 30
CLIENT_SESSION = "client-session"
_PREAMBLE = 100  # dockerd's maxPreambleLength: what content sniffing looks at
_ERROR_BODY = 64 << 10
_WATCH_INTERVAL = 0.5

# dockerd's acceptableRemoteMIME, plus zstd (which the upload path takes as well).
_ACCEPTABLE = re.compile(
    r"(?:application/(?:(?:x\-)?tar|octet\-stream|((?:x\-)?(?:gzip|bzip2?|xz|zstd?)))"
    r"|(?:text/plain))"
)
_GIT_SUFFIX = re.compile(r"\.git(?:#.+)?$")


@dataclass
class Fetched:
    """The context, and the Dockerfile when the URL was one (its context is empty)."""

    context: TarSource
    dockerfile: bytes | None = None


def is_url(remote: str) -> bool:
    """dockerd's ``urlutil.IsURL``."""
    return remote.startswith(("http://", "https://"))


def is_git_url(remote: str) -> bool:
    """dockerd's ``urlutil.IsGitURL``."""
    if is_url(remote) and _GIT_SUFFIX.search(remote):
        return True
    return remote.startswith(("git://", "github.com/", "git@"))


async def fetch(remote: str, workdir: Path) -> Fetched:
    """Fetch ``remote`` into ``workdir`` (the build's private directory)."""
    if remote == CLIENT_SESSION:
        raise InvalidParameter(
            "experimental session with v1 builder is no longer supported, "
            "use builder version v2 (BuildKit) instead"
        )
    try:
        async with asyncio.timeout(REMOTE_TIMEOUT):
            if is_git_url(remote):
                return await _fetch_git(remote, workdir)
            if is_url(remote):
                return await _fetch_url(remote, workdir)
    except TimeoutError:
        raise SystemError_(
            f"error fetching remote context {remote}: timed out after {int(REMOTE_TIMEOUT)}s"
        ) from None
    raise EngineError(f"remoteURL ({remote}) could not be recognized as URL")


# -- http(s) -----------------------------------------------------------------------------
def _status_error(url: str, status: int, reason: str, body: bytes) -> EngineError:
    """dockerd's ``GetWithStatusError``: the status and body, typed by the status."""
    text = body.strip().decode("utf-8", "replace")
    msg = f"error downloading remote context {url}: failed to GET {url} with status {status}"
    msg += f" {reason}: {text}"
    kinds: dict[int, type[EngineError]] = {
        404: NotFound,
        400: InvalidParameter,
        401: Unauthorized,
        403: Forbidden,
    }
    return kinds.get(status, EngineError)(msg)


def _sniff(preamble: bytes) -> str:
    """What Go's ``http.DetectContentType`` says of the kinds that matter here."""
    if preamble[:2] == b"\x1f\x8b":
        return "application/x-gzip"
    if preamble[:4] == b"PK\x03\x04":
        return "application/zip"
    head = preamble.lstrip(b"\t\n\x0c\r ").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "text/html; charset=utf-8"
    binary = set(range(0x00, 0x09)) | {0x0B} | set(range(0x0E, 0x1B)) | set(range(0x1C, 0x20))
    if any(b in binary for b in preamble):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


async def _fetch_url(url: str, workdir: Path) -> Fetched:
    import httpx

    try:
        async with (
            httpx.AsyncClient(timeout=REMOTE_TIMEOUT, follow_redirects=True) as client,
            client.stream("GET", url) as resp,
        ):
            if resp.status_code >= 400:
                body = b""
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) >= _ERROR_BODY:
                        break
                raise _status_error(url, resp.status_code, resp.reason_phrase, body)
            chunks = resp.aiter_bytes()
            first = b""
            async for chunk in chunks:
                if chunk:
                    first = chunk
                    break
            if not first:
                raise EngineError(f"error detecting content type for remote {url}: empty response")
            declared = resp.headers.get("Content-Type", "")
            kind = declared
            if not declared or declared == "application/octet-stream":
                kind = _sniff(first[:_PREAMBLE])
            accepted = _ACCEPTABLE.search(kind)
            if accepted is None:
                raise EngineError(
                    f"error detecting content type for remote {url}: "
                    f'unsupported Content-Type "{declared}"'
                )
            if accepted.group(0) == "text/plain":
                return Fetched(await _empty_context(workdir), await _text(first, chunks))
            return Fetched(await ctx.receive(_prepend(first, chunks), workdir, REMOTE_LIMIT))
    except httpx.HTTPError as e:
        raise SystemError_(f"error downloading remote context {url}: {e}") from None


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def _text(first: bytes, rest: AsyncIterator[bytes]) -> bytes:
    """A Dockerfile answered as text (bounded as one in a context is)."""
    data = bytearray(first)
    async for chunk in rest:
        data += chunk
        if len(data) > ctx.MAX_DOCKERFILE:
            raise InvalidParameter("the Dockerfile (remote) is too large")
    return bytes(data)


async def _empty_context(workdir: Path) -> TarSource:
    path = workdir / "context.tar"
    path.touch()
    return ctx.index(path, 0)


# -- git -------------------------------------------------------------------------------
@dataclass
class GitRemote:
    """dockerd's ``gitRepo``: what to fetch, which ref, which directory of it."""

    url: str
    ref: str
    subdir: str


def parse_git_url(remote: str) -> GitRemote:
    """dockerd's ``parseRemoteURL``: a scheme-less remote is https; ``#ref:subdir``."""
    if not remote.startswith("git@") and not re.match(r"^(git|https?|ssh)://", remote):
        remote = "https://" + remote
    url, _, fragment = remote.partition("#")
    ref, _, subdir = fragment.partition(":")
    if ref.startswith("-"):
        raise EngineError(f"invalid refspec: {ref}")
    return GitRemote(url, ref, subdir)


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_PROTOCOL_FROM_USER="0",  # no ext:: or fd:: from the URL
        GIT_CONFIG_NOSYSTEM="1",
        HOME="/dev/null",
        GIT_TERMINAL_PROMPT="0",
        GIT_SSH_COMMAND="ssh -o BatchMode=yes",
    )
    return env


def _disk_usage(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


async def _git(root: Path, *args: str) -> tuple[int, str]:
    """Run git in ``root``; stop it when the directory outgrows :data:`REMOTE_LIMIT`."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "protocol.file.allow=never",
        *args,
        cwd=root,
        env=_git_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    loop = asyncio.get_running_loop()
    output = asyncio.ensure_future(proc.communicate())
    try:
        while not output.done():
            await asyncio.wait([output], timeout=_WATCH_INTERVAL)
            if not output.done() and (
                await loop.run_in_executor(None, _disk_usage, root) > REMOTE_LIMIT
            ):
                raise InvalidParameter(
                    f"the git repository is larger than the limit of {REMOTE_LIMIT >> 20} MiB"
                )
        out, _ = output.result()
        return proc.returncode or 0, out.decode("utf-8", "replace")
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
        if not output.done():
            output.cancel()
            with contextlib.suppress(BaseException):
                await output


async def _shallow_ok(url: str) -> bool:
    """dockerd's ``supportsShallowClone``: not over "dumb" http."""
    if not url.startswith(("http://", "https://")):
        return True
    import httpx

    service = url + "/info/refs?service=git-upload-pack"
    try:
        async with httpx.AsyncClient(timeout=30, follow_redirects=True) as client:
            resp = await client.head(service)
            if resp.status_code != 200:
                resp = await client.get(service)
                if resp.status_code != 200:
                    return False
    except httpx.HTTPError:
        return False
    return resp.headers.get("Content-Type") == "application/x-git-upload-pack-advertisement"


async def _fetch_git(remote: str, workdir: Path) -> Fetched:
    if shutil.which("git") is None:
        raise EngineError('failed to init repo: exec: "git": executable file not found in $PATH')
    repo = parse_git_url(remote)
    root = workdir / "git"
    root.mkdir()

    async def step(what: str, *args: str) -> str:
        rc, out = await _git(root, *args)
        if rc:
            raise EngineError(f"{what}: {out}: exit status {rc}")
        return out

    await step("failed to init repo", "init", "-q")
    await step(f"failed add origin repo at {repo.url}", "remote", "add", "origin", repo.url)
    depth = ["--depth", "1"] if await _shallow_ok(repo.url) else []
    await step("error fetching", "fetch", *depth, "origin", "--", repo.ref or "HEAD")
    rc, out = (1, "") if not repo.ref else await _git(root, "checkout", "-q", repo.ref)
    if rc:
        rc2, _ = await _git(root, "checkout", "-q", "FETCH_HEAD")
        if rc2:
            raise EngineError(f"error checking out {repo.ref}: {out}: exit status {rc}")
    await step(
        "error initializing submodules", "submodule", "update", "--init", "--recursive", "--depth=1"
    )
    top = await asyncio.get_running_loop().run_in_executor(
        None, _pack, root, repo.subdir, workdir / "context.tar"
    )
    return Fetched(top)


def _pack(root: Path, subdir: str, dest: Path) -> TarSource:
    """Tar the checkout (or its ``subdir``, resolved inside it) as the context (blocking).

    Entries are taken with ``lstat``: a symlink in the repository stays a symlink and
    nothing outside the checkout is read."""
    top = root
    if subdir:
        missing = EngineError(f"stat {subdir}: no such file or directory")
        try:
            resolved = RootView(root).resolve(subdir)
        except NotFound:
            raise missing from None
        try:
            st = resolved.lstat()
        except FileNotFoundError:
            raise missing from None
        finally:
            resolved.close()
        if not stat.S_ISDIR(st.st_mode):
            raise EngineError(f"error setting git context, not a directory: {subdir}")
        top = root.joinpath(*resolved.parts)
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(top)):
            tar.add(top / name, arcname=name, recursive=True, filter=_plain)
    size = dest.stat().st_size
    if size > REMOTE_LIMIT:
        raise InvalidParameter(
            f"the build context is larger than the limit of {REMOTE_LIMIT >> 20} MiB"
        )
    return ctx.index(dest, size)


def _plain(ti: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Entries as a client's tar would hold them: no owner names, no special files."""
    if not (ti.isreg() or ti.isdir() or ti.issym()):
        return None
    ti.uname = ti.gname = ""
    ti.uid = ti.gid = 0
    return ti
