"""``portside machine …``: create, start, stop, enter and remove Portside machines.

Each command is a small function over ``MachineDirs``; the long-lived work (QEMU, SSH,
forwarders) happens in the host agent, which ``start`` spawns detached, so the machine
keeps running after this command returns. Errors are one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .config import DEFAULT_NAME, MachineConfig, MachineConfigError, Share
from .context import context_exists, context_name, remove_context, write_context
from .control import (
    RUNNING,
    ControlError,
    MachineState,
    agent_pid,
    effective_state,
    list_machines,
    start_machine,
    stop_machine,
)
from .paths import MachineDirs, machines_home


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def _say(text: str) -> None:
    print(text, flush=True)


# -- helpers ----------------------------------------------------------------------------
def existing(name: str) -> MachineDirs:
    dirs = MachineDirs.of(name)
    if not dirs.config.is_file():
        raise CliError(f"machine {name!r} does not exist (create it: portside machine init {name})")
    return dirs


def _running_state(dirs: MachineDirs) -> MachineState:
    st = effective_state(dirs)
    if st.state != RUNNING:
        raise CliError(f"machine {dirs.name!r} is not running (start it: portside machine start)")
    return st


def _parse_share(spec: str) -> Share:
    """``PATH`` or ``PATH:ro`` — mounted at the same path in the guest."""
    read_only = False
    if spec.endswith(":ro"):
        spec, read_only = spec[: -len(":ro")], True
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise CliError(f"cannot share {spec!r}: not a directory")
    return Share(host_path=str(path.resolve()), read_only=read_only)


def _known_hosts(dirs: MachineDirs, port: int) -> Path:
    """A known_hosts file holding only the machine's pinned host key."""
    from .keys import public_line

    fields = public_line(dirs.host_key).split()
    path = dirs.root / "known_hosts"
    path.write_text(f"[127.0.0.1]:{port} {fields[0]} {fields[1]}\n")
    return path


def ssh_argv(dirs: MachineDirs, port: int, command: list[str]) -> list[str]:
    """The OpenSSH command line that logs into the machine with its key and pinned host key."""
    argv = [
        "ssh",
        "-i",
        str(dirs.client_key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={_known_hosts(dirs, port)}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "LogLevel=ERROR",
        "-p",
        str(port),
        "root@127.0.0.1",
    ]
    if command:
        argv += ["--", *command]
    return argv


def _size(mib: int) -> str:
    return f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib} MiB"


# -- commands ---------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    name = args.name
    shares = [] if args.no_home_share else list(MachineConfig.default_shares())
    shares += [_parse_share(s) for s in args.share]
    try:
        ipaddress.ip_address(args.ports_address)
    except ValueError as e:
        raise CliError(f"--ports-address {args.ports_address!r} is not an IP address") from e
    bundle = str(Path(args.bundle).expanduser().resolve()) if args.bundle else ""
    config = MachineConfig(
        name=name,
        cpus=args.cpus,
        memory_mib=args.memory,
        disk_gib=args.disk,
        shares=tuple(dict.fromkeys(shares)),
        bundle=bundle,
        restrict_network=args.restrict_network,
        ports_address=args.ports_address,
    )
    dirs = MachineDirs.of(name)
    if dirs.config.exists():
        raise CliError(f"machine {name!r} already exists")
    _check_bundle(bundle)
    dirs.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        from .keys import ensure_keys

        config.save(dirs.config)
        ensure_keys(dirs)
        write_context(context_name(name), dirs.docker_socket, f"Portside machine {name}")
    except BaseException:
        shutil.rmtree(dirs.root, ignore_errors=True)
        raise
    _say(f"Machine {name!r} created in {dirs.root}")
    _say(f"Start it with: portside machine start{'' if name == DEFAULT_NAME else ' ' + name}")
    return 0


def _check_bundle(bundle: str) -> None:
    """Fail at ``init`` (not minutes into ``start``) when there is no usable guest bundle."""
    from .image import Bundle, BundleError, default_bundle_dir

    root = Path(bundle) if bundle else default_bundle_dir()
    try:
        Bundle.load(root, verify=False)
    except BundleError as e:
        raise CliError(
            f"no usable guest bundle in {root} ({e}); build one with: "
            f"python -m portside.vm.image build --out {root}"
        ) from e


def cmd_start(args: argparse.Namespace) -> int:
    dirs = existing(args.name)
    if agent_pid(dirs) and effective_state(dirs).state == RUNNING:
        _say(f"Machine {dirs.name!r} is already running")
        return 0
    _say(f"Starting machine {dirs.name!r}…")
    st = asyncio.run(
        start_machine(dirs, boot_timeout=args.timeout, on_progress=lambda text: _say(f"  {text}"))
    )
    if st.state != RUNNING:
        # The full reason (with the guest console's last lines) stays in `inspect`/`logs`.
        first = (st.last_error or "unknown error").splitlines()[0]
        hint = f"portside machine logs{'' if dirs.name == DEFAULT_NAME else ' ' + dirs.name}"
        raise CliError(f"machine {dirs.name!r} failed to start: {first} (see: {hint})")
    _say(f"Machine {dirs.name!r} is running (engine {st.engine_version}, {st.accel}).")
    _say(f"Use it with: docker --context {context_name(dirs.name)} ps")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    dirs = existing(args.name)
    if not asyncio.run(stop_machine(dirs)):
        _say(f"Machine {dirs.name!r} is not running")
        return 0
    _say(f"Machine {dirs.name!r} stopped")
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    dirs = existing(args.name)
    st = _running_state(dirs)
    command = list(args.remote_command)
    if shutil.which("ssh"):
        return subprocess.call(ssh_argv(dirs, st.ssh_port, command))
    if not command:
        raise CliError("an interactive shell needs the OpenSSH client (ssh); give a command")
    # Joined with spaces, as OpenSSH's client sends a command: the guest's shell splits it,
    # so `machine ssh -- 'free -m | head'` means the same with or without OpenSSH.
    return asyncio.run(_run_over_link(dirs, st.ssh_port, " ".join(command)))


async def _run_over_link(dirs: MachineDirs, port: int, command: str) -> int:
    """Run one command through the same SSH link the agent uses (no OpenSSH client)."""
    from .keys import public_line
    from .link import SshLink, SshTarget

    link = SshLink(
        SshTarget(
            host="127.0.0.1",
            port=port,
            key_file=dirs.client_key,
            pinned_host_key=public_line(dirs.host_key),
        )
    )
    await link.connect()
    try:
        code, out, err = await link.run(command, timeout=3600.0)
    finally:
        await link.close()
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.flush()
    return code


def cmd_rm(args: argparse.Namespace) -> int:
    dirs = MachineDirs.of(args.name)
    if not dirs.root.exists():
        if args.force:
            remove_context(context_name(args.name))
            return 0
        raise CliError(f"machine {args.name!r} does not exist")
    asyncio.run(stop_machine(dirs, force=args.force))
    remove_context(context_name(dirs.name))
    shutil.rmtree(dirs.root)
    _say(f"Machine {dirs.name!r} removed")
    return 0


def describe(dirs: MachineDirs) -> dict[str, Any]:
    """What ``inspect`` prints for one machine."""
    try:
        config: dict[str, Any] = json.loads(MachineConfig.load(dirs.config).to_json())
    except (OSError, ValueError, TypeError) as e:
        config = {"error": f"unreadable settings: {e}"}
    st = effective_state(dirs)
    name = context_name(dirs.name)
    return {
        "Name": dirs.name,
        "Dir": str(dirs.root),
        "Config": config,
        "State": st.to_dict(),
        "DockerContext": name if context_exists(name) else "",
        "DockerHost": f"unix://{dirs.docker_socket}",
    }


def cmd_ls(args: argparse.Namespace) -> int:
    rows = [describe(d) for d in list_machines(machines_home())]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    table = [("NAME", "STATE", "CPUS", "MEMORY", "DISK", "ACCEL", "ENGINE", "DOCKER CONTEXT")]
    for row in rows:
        cfg, st = row["Config"], row["State"]
        table.append(
            (
                row["Name"],
                st["state"],
                str(cfg.get("cpus", "")),
                _size(int(cfg.get("memory_mib", 0))),
                f"{cfg.get('disk_gib', '')} GiB",
                st["accel"] if st["state"] == RUNNING else "",
                st["engine_version"] if st["state"] == RUNNING else "",
                row["DockerContext"],
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    print(json.dumps([describe(existing(n)) for n in args.names or [DEFAULT_NAME]], indent=2))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    dirs = existing(args.name)
    path = dirs.agent_log if args.agent else dirs.serial_log
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise CliError(
            f"machine {dirs.name!r} has no {'agent' if args.agent else 'console'} log yet"
        ) from e
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


# -- parsing ----------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="portside machine", description="Manage Portside machines")
    sub = p.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)

    init = sub.add_parser("init", help="create a machine")
    init.add_argument("name", nargs="?", default=DEFAULT_NAME)
    init.add_argument("--cpus", type=int, default=2)
    init.add_argument("--memory", type=int, default=2048, help="MiB")
    init.add_argument("--disk", type=int, default=20, help="GiB")
    init.add_argument("--share", action="append", default=[], metavar="PATH[:ro]")
    init.add_argument("--no-home-share", action="store_true", help="do not share the home folder")
    init.add_argument("--bundle", help="guest bundle directory")
    init.add_argument("--restrict-network", action="store_true", help="no network beyond the host")
    init.add_argument("--ports-address", default="127.0.0.1", help="where published ports listen")
    init.set_defaults(func=cmd_init)

    start = sub.add_parser("start", help="boot a machine")
    start.add_argument("name", nargs="?", default=DEFAULT_NAME)
    start.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the boot")
    start.set_defaults(func=cmd_start)

    stop = sub.add_parser("stop", help="power a machine off")
    stop.add_argument("name", nargs="?", default=DEFAULT_NAME)
    stop.set_defaults(func=cmd_stop)

    ssh = sub.add_parser("ssh", help="log into a machine, or run a command in it")
    ssh.add_argument("name", nargs="?", default=DEFAULT_NAME)
    ssh.add_argument("remote_command", nargs=argparse.REMAINDER, metavar="COMMAND")
    ssh.set_defaults(func=cmd_ssh)

    rm = sub.add_parser("rm", help="stop and delete a machine")
    rm.add_argument("-f", "--force", action="store_true", help="kill it if it does not stop")
    rm.add_argument("name", nargs="?", default=DEFAULT_NAME)
    rm.set_defaults(func=cmd_rm)

    ls = sub.add_parser("ls", help="list machines")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.set_defaults(func=cmd_ls)

    inspect = sub.add_parser("inspect", help="show machines as JSON")
    inspect.add_argument("names", nargs="*")
    inspect.set_defaults(func=cmd_inspect)

    logs = sub.add_parser("logs", help="show a machine's console log (or its agent's)")
    logs.add_argument("name", nargs="?", default=DEFAULT_NAME)
    logs.add_argument("--agent", action="store_true", help="the host agent's log")
    logs.set_defaults(func=cmd_logs)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    remote: list[str] | None = None
    if argv[:1] == ["ssh"] and "--" in argv:
        # Everything after "--" is the guest's command, even when the name is left out.
        cut = argv.index("--")
        argv, remote = argv[:cut], argv[cut + 1 :]
    args = parser().parse_args(argv)
    if remote is not None:
        args.remote_command = remote
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        return 130
    except (CliError, MachineConfigError, ControlError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # the CLI promises one line, never a traceback
        print(f"error: {e or type(e).__name__}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
