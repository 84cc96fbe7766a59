"""Reading the tar streams of the archive API without holding them in memory.

``GET /containers/{id}/archive?path=`` answers a tar of the path. Listing a directory
means walking the headers and skipping file bodies; downloading a file means copying
the body of its single entry. Headers are decoded by :mod:`tarfile`; GNU long names and
PAX records are applied here because the stream is read incrementally.
"""

from __future__ import annotations

import posixpath
import stat
import tarfile
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable
from dataclasses import dataclass

BLOCK = 512


@dataclass(frozen=True, slots=True)
class TarEntry:
    """One member of an archive: ``kind`` is file, dir, symlink, hardlink or other."""

    name: str
    kind: str
    size: int
    mode: int
    mtime: float
    linkname: str = ""

    @property
    def basename(self) -> str:
        """The last path component."""
        return posixpath.basename(self.name.rstrip("/")) or self.name

    @property
    def permissions(self) -> str:
        """``ls -l`` style permissions, e.g. ``drwxr-xr-x``."""
        kind_bits = {"dir": stat.S_IFDIR, "symlink": stat.S_IFLNK}.get(self.kind, stat.S_IFREG)
        return stat.filemode(kind_bits | (self.mode & 0o7777))


def _kind(info: tarfile.TarInfo) -> str:
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.isreg():
        return "file"
    return "other"


def _pax(data: bytes) -> dict[str, str]:
    """Decode PAX extended header records ``"<len> key=value\\n"``."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            break
        if length <= 0:
            break
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        pos += length
    return out


class _Reader:
    """Exact-size reads over an async iterator of chunks."""

    def __init__(self, chunks: AsyncIterable[bytes]):
        self._it = aiter(chunks)
        self._buf = bytearray()
        self._eof = False

    async def _fill(self, n: int) -> None:
        while len(self._buf) < n and not self._eof:
            try:
                self._buf += await anext(self._it)
            except StopAsyncIteration:
                self._eof = True

    async def read(self, n: int) -> bytes:
        await self._fill(n)
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def aclose(self) -> None:
        """Close the source (a tar ends before its HTTP body does: two zero blocks, padding)."""
        closer = getattr(self._it, "aclose", None)
        if closer is not None:
            await closer()

    async def pieces(self, n: int) -> AsyncGenerator[bytes, None]:
        """Yield exactly ``n`` bytes in pieces as they arrive."""
        left = n
        while left > 0:
            if not self._buf:
                await self._fill(1)
                if not self._buf:
                    raise ValueError("archive ended inside a file")
            take = min(left, len(self._buf))
            yield bytes(self._buf[:take])
            del self._buf[:take]
            left -= take


async def iter_tar(
    chunks: AsyncIterable[bytes],
    on_data: Callable[[TarEntry, bytes], Awaitable[None]] | None = None,
) -> AsyncGenerator[TarEntry, None]:
    """Yield each entry of a tar stream; file bodies go to ``on_data`` (or are skipped)."""
    reader = _Reader(chunks)
    try:
        async for entry in _entries(reader, on_data):
            yield entry
    finally:
        await reader.aclose()


async def _entries(
    reader: _Reader, on_data: Callable[[TarEntry, bytes], Awaitable[None]] | None
) -> AsyncGenerator[TarEntry, None]:
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    while True:
        header = await reader.read(BLOCK)
        if len(header) < BLOCK or header == bytes(BLOCK):
            return
        try:
            info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            raise ValueError(f"invalid tar header: {e}") from e
        padded = -(-info.size // BLOCK) * BLOCK
        if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE):
            data = (await reader.read(padded))[: info.size]
            if info.type == tarfile.GNUTYPE_LONGNAME:
                long_name = data.rstrip(b"\0").decode("utf-8", "replace")
            elif info.type == tarfile.GNUTYPE_LONGLINK:
                long_link = data.rstrip(b"\0").decode("utf-8", "replace")
            else:
                pax = _pax(data)
            continue
        if info.type == tarfile.XGLTYPE:
            await reader.read(padded)
            continue
        name = pax.get("path") or long_name or info.name
        size = int(pax.get("size", info.size))
        entry = TarEntry(
            name=name,
            kind=_kind(info),
            size=size if info.isreg() else 0,
            mode=info.mode,
            mtime=float(pax.get("mtime", info.mtime)),
            linkname=pax.get("linkpath") or long_link or info.linkname,
        )
        long_name = long_link = None
        pax = {}
        yield entry
        body = size if info.isreg() or info.type == tarfile.AREGTYPE else 0
        if body:
            async for piece in reader.pieces(body):
                if on_data is not None:
                    await on_data(entry, piece)
            await reader.read(-(-body // BLOCK) * BLOCK - body)


def _strip(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/") if name not in (".", "/") else ""


async def list_directory(chunks: AsyncIterable[bytes]) -> list[TarEntry]:
    """The direct children of the directory an archive stream was taken from.

    The engine names the first member after the directory itself (``etc``, or ``.``
    for ``/``); deeper members are skipped as they pass by.
    """
    root: str | None = None
    children: list[TarEntry] = []
    async for entry in iter_tar(chunks):
        name = _strip(entry.name)
        if root is None:
            root = name
            continue
        rel = name[len(root) + 1 :] if root else name
        if root and not name.startswith(root + "/"):
            continue
        if rel and "/" not in rel:
            children.append(entry)
    return sorted(children, key=lambda e: (e.kind != "dir", e.basename))
