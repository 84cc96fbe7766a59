"""``python -m portside.vm.image build --out DIR``: build a guest bundle."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .build import build_bundle
from .bundle import BundleError, default_bundle_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portside.vm.image")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the VM bundle (needs root)")
    build.add_argument("--out", type=Path, default=None, help="bundle directory")
    build.add_argument("--mirror", default="http://deb.debian.org/debian")
    build.add_argument("--deb-cache", type=Path, default=None, help="keep downloaded .debs here")
    args = parser.parse_args(argv)
    out = args.out or default_bundle_dir()
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    try:
        bundle = build_bundle(out, progress=progress, mirror=args.mirror, deb_cache=args.deb_cache)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(bundle.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
