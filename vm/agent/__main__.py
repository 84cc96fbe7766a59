"""``python -m portside.vm.agent <machine-dir>``: run one machine's host agent."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from ..paths import MachineDirs
from .host import HostAgent, install_signal_handlers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m portside.vm.agent")
    p.add_argument("machine_dir", type=Path, help="the machine's directory")
    p.add_argument(
        "--timeout", type=float, default=900.0, help="seconds the guest may take to boot"
    )
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    dirs = MachineDirs(args.machine_dir.resolve())
    if not dirs.config.is_file():
        print(f"error: {dirs.root} is not a machine (no {dirs.config.name})", file=sys.stderr)
        return 2
    agent = HostAgent(dirs, start_timeout=args.timeout)

    async def run() -> int:
        install_signal_handlers(agent)
        return await agent.run()

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
