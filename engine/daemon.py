"""``portsided``: parse flags, start the Engine, serve the API until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from . import __version__
from .api.server import serve
from .api.web.activation import ActivationError, activated_sockets
from .api.web.socketgroup import UnknownGroup, socket_gid
from .config import DaemonConfig, load_config
from .engine import Engine
from .errors import EngineError
from .system.memory import fix_mmap_threshold

log = logging.getLogger("portsided")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


async def run(config: DaemonConfig) -> None:
    """Run the engine until a stop signal; containers are left running on exit."""
    # Both checked before the engine touches anything: a wrong flag changes nothing.
    try:
        gid = socket_gid(config.group)
        inherited = activated_sockets() if config.socket_activated else []
    except (UnknownGroup, ActivationError) as e:
        raise EngineError(str(e)) from e
    engine = Engine(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start()
        listener = await serve(engine, config.socket_paths, gid, inherited)
    except BaseException:
        await engine.shutdown()
        raise
    log.info("API listening on %s", ", ".join(config.hosts))
    try:
        await stop.wait()
    finally:
        log.info("shutting down; containers keep running")
        await listener.close(grace=2.0)
        await engine.shutdown()
        for p in config.socket_paths:
            p.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``portsided`` console script."""
    try:
        config = load_config(argv)
    except EngineError as e:
        print(f"portsided: {e.message}", file=sys.stderr)
        return 2
    if getattr(config, "version_only", False):
        print(f"Portside engine {__version__}")
        return 0
    logging.basicConfig(
        level=_LEVELS.get(config.log_level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    fix_mmap_threshold()
    try:
        asyncio.run(run(config))
    except EngineError as e:
        # The whole trace only at debug level: the message is what an operator needs.
        log.error("%s", e.message, exc_info=log.isEnabledFor(logging.DEBUG))
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
