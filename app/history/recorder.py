"""Recording history while the app runs: one stats stream per running container, written
to the :class:`~.store.HistoryStore` once a second on a worker thread.

Qt-free: the application tells the recorder which containers exist (:meth:`sync`) and
which engine to use (:meth:`set_client`). The streams run on the recorder's own asyncio
loop in a thread of its own, with its own connection to the engine: under qasync every
chunk of a dozen streams woke the Qt event loop, which cost more than 1 % of a CPU at
idle; a plain asyncio loop receives them for a fraction of that. Every SQLite call goes
to a single worker thread, so neither loop waits on the disk. The engine's series is the
sum over its containers, which any Docker-compatible engine can give. Listeners are
called on the recorder's thread (a Qt signal emitted there is queued to the GUI).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psutil

from ..client import EngineAddress, EngineClient, EngineError, StatsSample
from .store import DEFAULT_MAX_BYTES, HistoryStore, Row

ENGINE_PREFIX = "engine:"
HOST_KEY = "host"
COMPACT_EVERY = 60.0  # seconds between averaging minutes and enforcing the bound
FLUSH_EVERY = 1.0
RESTART_AFTER = 2.0  # seconds before re-opening a stream that ended by itself

T = TypeVar("T")


def engine_key(where: str) -> str:
    """The series key of the engine at address ``where`` (the sum of its containers)."""
    return ENGINE_PREFIX + where


def default_path() -> Path:
    """``$XDG_STATE_HOME/portside/history.sqlite`` (``~/.local/state`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "portside" / "history.sqlite"


class _Rates:
    """Turns cumulative I/O counters into per-second rates."""

    def __init__(self) -> None:
        self.prev: StatsSample | None = None
        self.prev_t = 0.0

    def row(self, s: StatsSample, now: float) -> Row:
        prev, dt = self.prev, now - self.prev_t
        rates = [0.0, 0.0, 0.0, 0.0]
        if prev is not None and dt > 0:
            rates = [
                max(s.net_rx - prev.net_rx, 0) / dt,
                max(s.net_tx - prev.net_tx, 0) / dt,
                max(s.block_read - prev.block_read, 0) / dt,
                max(s.block_write - prev.block_write, 0) / dt,
            ]
        self.prev, self.prev_t = s, now
        return Row(now, s.cpu_percent, float(s.memory_usage), *rates)


class _HostSampler:
    """This computer's CPU, memory, network and disk rates (psutil; blocking reads of /proc)."""

    def __init__(self) -> None:
        self.cpus = psutil.cpu_count() or 1
        psutil.cpu_percent(None)  # the next call measures from now
        self.prev: tuple[float, int, int, int, int] | None = None

    def row(self) -> Row:
        now = time.time()
        net = psutil.net_io_counters()
        disk = psutil.disk_io_counters()
        counters = (
            now,
            net.bytes_recv if net else 0,
            net.bytes_sent if net else 0,
            disk.read_bytes if disk else 0,
            disk.write_bytes if disk else 0,
        )
        rates = [0.0, 0.0, 0.0, 0.0]
        if self.prev is not None and now > self.prev[0]:
            dt = now - self.prev[0]
            rates = [max(c - p, 0) / dt for c, p in zip(counters[1:], self.prev[1:], strict=True)]
        self.prev = counters
        mem = psutil.virtual_memory()
        # Percent of one CPU, like a container's (400 % = four CPUs busy).
        cpu = psutil.cpu_percent(None) * self.cpus
        return Row(now, cpu, float(mem.total - mem.available), *rates)


class HistoryRecorder:
    """Records every running container of the connected engine, and the engine's total."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES
    ):
        self.path = Path(path) if path is not None else default_path()
        self.max_bytes = max_bytes
        self.store: HistoryStore | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portside-history")
        self._client: EngineClient | None = None
        self._engine_name = "Engine"
        self._engine_where = ""
        self._chores: set[asyncio.Task[None]] = set()
        self._running: dict[str, str] = {}  # id -> name
        self._streams: dict[str, asyncio.Task[None]] = {}
        self._ended: dict[str, float] = {}
        self._latest: dict[str, Row] = {}
        self._pending: list[tuple[str, Row]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._target: tuple[EngineAddress, str | None] | None = None
        #: called once a second with that second's ``[(series key, row), …]`` (on the
        #: recorder's thread): one wake-up of the GUI per second, not one per stream
        self.listeners: list[Callable[[list[tuple[str, Row]]], None]] = []
        self.record_host = True
        self._host: _HostSampler | None = None
        self.written = 0

    # -- lifecycle (called from the owner's loop) ----------------------------------------
    async def open(self) -> None:
        """Open (or create) the database and start recording on the recorder's thread."""
        self.store = await self.call_raw(HistoryStore, self.path, self.max_bytes)
        loop = self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run_loop, args=(loop,), name="portside-history", daemon=True
        )
        self._thread.start()
        self._post(self._start())

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def _post(self, coro: Any) -> None:
        """Run ``coro`` on the recorder's loop (dropped before :meth:`open`)."""
        if self._loop is None:
            coro.close()
            return
        asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def close(self) -> None:
        """Stop streams, write what is pending, close the database."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._stop(), loop))
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
            self._loop = self._thread = None
        if self.store is not None:
            store, self.store = self.store, None
            pending, self._pending = self._pending, []
            await self.call_raw(store.add, pending)
            await self.call_raw(store.close)
        self._worker.shutdown(wait=False)

    async def _start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._writer())
        await self._apply_client(self._target)

    async def _stop(self) -> None:
        await self._apply_client(None)
        tasks = list(self._streams.values()) + list(self._chores)
        if self._loop_task is not None:
            tasks.append(self._loop_task)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def call_raw(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def call(self, fn: Callable[[HistoryStore], T]) -> T:
        """Run ``fn(store)`` on the database thread (the store must be open)."""
        store = self.store
        if store is None:
            raise RuntimeError("the history is not open")
        return await self.call_raw(fn, store)

    async def _store_call(self, method: str, *args: Any) -> Any:
        store = self.store
        if store is None:
            raise RuntimeError("the history is not open")
        return await self.call_raw(getattr(store, method), *args)

    # -- what to record ------------------------------------------------------------------
    def set_client(self, client: EngineClient | None, engine_name: str = "") -> None:
        """Record from the engine ``client`` talks to (None: stop recording). The
        recorder opens its own connection, with the API version ``client`` settled on."""
        if client is not None:
            self._engine_where = client.address.describe()
            self._target = (client.address, client.api_version)
        else:
            self._target = None
        if engine_name:
            self._engine_name = engine_name
        self._post(self._apply_client(self._target))

    def sync(self, containers: Mapping[str, tuple[str, bool]], complete: bool = True) -> None:
        """The engine's containers, ``id -> (name, running)``. With ``complete``, known
        containers missing from it are marked removed (their history stays)."""
        self._post(self._apply_sync(dict(containers), complete, self._engine_where))

    # -- on the recorder's loop ----------------------------------------------------------
    async def _apply_client(self, target: tuple[EngineAddress, str | None] | None) -> None:
        for task in self._streams.values():
            task.cancel()
        self._streams.clear()
        self._ended.clear()
        self._latest.clear()
        old, self._client = self._client, None
        if old is not None:
            await old.aclose()
        if target is not None:
            address, version = target
            self._client = EngineClient(address, api_version=version)
        else:
            self._running.clear()
        self._reconcile()

    async def _apply_sync(
        self, containers: dict[str, tuple[str, bool]], complete: bool, where: str
    ) -> None:
        self._running = {cid: name for cid, (name, running) in containers.items() if running}
        if complete and self.store is not None and self._client is not None:
            task = asyncio.get_running_loop().create_task(self._mark_gone(set(containers), where))
            self._chores.add(task)
            task.add_done_callback(self._chores.discard)
        self._reconcile()

    @property
    def streaming(self) -> set[str]:
        """Containers being recorded now."""
        return set(self._streams)

    def _reconcile(self) -> None:
        wanted = set(self._running) if self._client is not None else set()
        for cid in list(self._streams):
            if cid not in wanted:
                self._streams.pop(cid).cancel()
                self._latest.pop(cid, None)
        now = time.monotonic()
        for cid in wanted - set(self._streams):
            if now - self._ended.get(cid, 0.0) < RESTART_AFTER:
                continue
            self._streams[cid] = asyncio.get_running_loop().create_task(self._stream(cid))

    @property
    def engine_key(self) -> str:
        """The series key of the engine recorded now."""
        return engine_key(self._engine_where)

    async def _mark_gone(self, present: set[str], where: str) -> None:
        def mark(store: HistoryStore) -> None:
            gone = [
                s.key
                for s in store.series()
                if s.kind == "container" and s.engine == where and s.key not in present
            ]
            store.mark_removed(gone)

        with contextlib.suppress(RuntimeError):
            await self.call(mark)

    async def _stream(self, cid: str) -> None:
        client = self._client
        assert client is not None
        rates = _Rates()
        try:
            if self.store is not None:
                name = self._running.get(cid, cid[:12])
                where = self._engine_where
                await self.call(lambda st: st.series_id(cid, name, "container", where))
            async for s in client.containers.stats_samples(cid):
                row = rates.row(s, time.time())
                self._latest[cid] = row
                self._pending.append((cid, row))
        except (EngineError, ValueError):
            pass  # the container stopped or vanished: its series simply ends here
        finally:
            if self._streams.get(cid) is asyncio.current_task():
                del self._streams[cid]
                self._latest.pop(cid, None)
                self._ended[cid] = time.monotonic()

    # -- writing -------------------------------------------------------------------------
    def _engine_row(self, now: float) -> Row | None:
        fresh = [r for r in self._latest.values() if now - r.t < 2.5]
        if self._client is None:
            return None
        return Row(
            now,
            sum(r.cpu for r in fresh),
            sum(r.mem for r in fresh),
            sum(r.rx for r in fresh),
            sum(r.tx for r in fresh),
            sum(r.read for r in fresh),
            sum(r.write for r in fresh),
        )

    async def _writer(self) -> None:
        last_compact = time.monotonic()
        engine_named = ("", "")
        await self.call(lambda st: st.compact())
        if self.record_host:
            self._host = await self.call_raw(_HostSampler)
            await self.call(lambda st: st.series_id(HOST_KEY, "This computer", "host"))
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            self._reconcile()  # re-open streams that ended by themselves
            now = time.time()
            batch, self._pending = self._pending, []
            engine = self._engine_row(now)
            if engine is not None:
                key = self.engine_key
                if engine_named != (key, self._engine_name):
                    engine_named = (key, self._engine_name)
                    await self._store_call(
                        "series_id", key, self._engine_name, "engine", self._engine_where
                    )
                batch.append((key, engine))
            if self._host is not None:
                host = await self.call_raw(self._host.row)
                batch.append((HOST_KEY, host))
            if batch:
                for fn in self.listeners:
                    fn(batch)
                await self._store_call("add", batch)
                self.written += len(batch)
            if time.monotonic() - last_compact >= COMPACT_EVERY:
                last_compact = time.monotonic()
                await self.call(lambda st: st.compact())
