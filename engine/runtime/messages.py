"""What the OCI runtime said when it failed, in Docker's wording.

Docker's wording is runc's, and clients act on it: the docker CLI exits ``docker run`` with
127 when the daemon's error contains "executable file not found" or "no such file or
directory", and with 126 for "permission denied" — case-sensitive, Go's lowercase errno
text. crun words the same failures its own way (C's ``strerror`` text, "open executable:
Permission denied", "executable file `x` not found in $PATH"), which made ``docker run``
of a missing command exit 125 under crun. So a crun message for a process that cannot be
started is rewritten to runc's form; every other message keeps the runtime's own text.
"""

from __future__ import annotations

import re

# runc logs through logrus: `time="…" level=error msg="…"`, possibly after warning lines.
_LOGRUS_ERROR = re.compile(r'level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"')
_LOGRUS_ANY = re.compile(r'msg="((?:[^"\\]|\\.)*)"')

_CRUN_NOT_FOUND = re.compile(
    r"^executable file `(.*)` not found in \$PATH: No such file or directory$"
)
_CRUN_CANNOT_OPEN = re.compile(r"^open executable: (Permission denied|Operation not permitted)$")
_CRUN_CHDIR = re.compile(r"^chdir `(.*)`: (.+)$")

_STARTING = "unable to start container process: "


def error_text(stderr: str) -> str:
    """The error line of a runtime's output: runc's last error-level message, else the
    last non-empty line (crun prints one plain line, prefixed ``crun: ``)."""
    found = _LOGRUS_ERROR.findall(stderr) or _LOGRUS_ANY.findall(stderr)
    if found:
        return found[-1].replace('\\"', '"').replace("\\\\", "\\")
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    text = lines[-1] if lines else ""
    return text.removeprefix("crun: ")


def docker_wording(text: str, command: str = "", exec_: bool = False) -> str:
    """``text`` (from :func:`error_text`) as runc would have said it; ``command`` is the
    process's ``argv[0]``, which crun leaves out of some messages; ``exec_`` for a
    process started in a running container (runc then says "exec failed: ")."""
    starting = ("exec failed: " if exec_ else "") + _STARTING
    m = _CRUN_NOT_FOUND.match(text)
    if m:
        name = m.group(1)
        if "/" in name:
            return f'{starting}exec: "{name}": stat {name}: no such file or directory'
        return f'{starting}exec: "{name}": executable file not found in $PATH'
    if _CRUN_CANNOT_OPEN.match(text):
        # a directory (EPERM from crun's open) or a file without x bit (EACCES)
        return f'{starting}exec: "{command}": permission denied'
    m = _CRUN_CHDIR.match(text)
    if m:
        return (
            f'{starting}chdir to cwd ("{m.group(1)}") set in config.json failed: '
            f"{m.group(2).lower()}"
        )
    return text


def create_failure(message: str, command: str) -> str:
    """Docker's "OCI runtime create failed: …" for what conmon relayed from the runtime."""
    text = error_text(message) or "container create failed"
    return f"OCI runtime create failed: {docker_wording(text, command)}"


def exec_failure(message: str, command: str) -> str:
    """Docker's "OCI runtime exec failed: …: unknown" around the runtime's error."""
    text = error_text(message) or "exec failed"
    text = docker_wording(text.removeprefix("runc exec failed: "), command, exec_=True)
    return f"OCI runtime exec failed: {text}: unknown"


def process_exit_code(message: str) -> int | None:
    """Docker's exit code for a process that could not be started: 127 for a missing
    command, 126 for one that cannot be run, None when ``message`` says neither (the
    docker CLI picks the same codes from the same words)."""
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return 127
    if "permission denied" in low:
        return 126
    return None
