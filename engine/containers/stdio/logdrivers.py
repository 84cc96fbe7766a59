"""Log drivers: which exist, their options, and Docker's wording for what is wrong.

Every driver is conmon's k8s-file underneath (read back by :mod:`.logs`), or nothing
at all for ``none``. What differs between them is what clients see and how much is
kept: ``json-file`` keeps everything unless ``max-size`` is set, ``local`` rotates by
default (moby's 20 MB × 5 files, compressed), ``none`` keeps nothing and cannot be read.

Checks happen where dockerd makes them: the driver name and option keys at create
(``validate_log_config``), option values when the container starts (``log_policy``,
"failed to initialize logging driver: ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...conventions import go_bool
from ...errors import InvalidParameter, NotSupported

JSON_FILE, LOCAL, NONE = "json-file", "local", "none"

# Options of every driver that stores logs, beside the per-driver ones (moby's
# builtInLogOpts and the attributes handled by loggerutils).
_COMMON_OPTS = {"labels", "labels-regex", "env", "env-regex", "tag"}
_DRIVER_OPTS = {
    JSON_FILE: {"max-file", "max-size", "compress", *_COMMON_OPTS},
    LOCAL: {"max-file", "max-size", "compress", *_COMMON_OPTS},
}
_BUILTIN_OPTS = {"mode", "max-buffer-size"}

# moby's local driver defaults.
LOCAL_MAX_SIZE = 20 * 1000 * 1000
LOCAL_MAX_FILE = 5

# Drivers ``docker info`` lists under Plugins.Log (dockerd leaves ``none`` out).
LISTED_DRIVERS = [JSON_FILE, LOCAL]


def not_readable() -> NotSupported:
    """dockerd's 501 for ``docker logs`` of a container whose driver keeps nothing."""
    return NotSupported("configured logging driver does not support reading")


def readable(log_config: dict[str, Any] | None) -> bool:
    """Whether ``docker logs`` can read a container with this LogConfig."""
    return (log_config or {}).get("Type") != NONE


@dataclass(frozen=True)
class LogPolicy:
    """How a container's log is written and kept."""

    driver: str
    max_size: int = 0  # bytes per file; 0: unbounded
    max_file: int = 1  # files kept, the one being written included
    compress: bool = False  # gzip rotated files

    @property
    def readable(self) -> bool:
        """Whether anything is kept for ``docker logs``."""
        return self.driver != NONE

    @property
    def rotates(self) -> bool:
        """Whether full files are kept as older generations (else truncated in place)."""
        return self.readable and self.max_size > 0 and self.max_file > 1


def _str_map(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameter("invalid LogConfig.Config: expected an object of strings")
    return dict(value)


def validate_log_opts(driver: str, opts: dict[str, str]) -> None:
    """moby's ``logger.ValidateLogOpts``: the driver exists and knows every option key."""
    if driver == NONE:
        return
    mode = opts.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise InvalidParameter(f"logger: logging mode not supported: {mode}")
    if "max-buffer-size" in opts:
        if mode != "non-blocking":
            raise InvalidParameter(
                "logger: max-buffer-size option is only supported with 'mode=non-blocking'"
            )
        try:
            parse_size(opts["max-buffer-size"], binary=True)
        except ValueError as e:
            raise InvalidParameter(f"error parsing option max-buffer-size: {e}") from None
    known = _DRIVER_OPTS.get(driver)
    if known is None:
        raise InvalidParameter(f"logger: no log driver named '{driver}' is registered")
    for key in opts:
        if key in _BUILTIN_OPTS or key in known:
            continue
        if driver == JSON_FILE:
            raise InvalidParameter(f"unknown log opt '{key}' for json-file log driver")
        raise InvalidParameter(f"unknown log opt '{key}' for log driver {driver}")


def validate_log_config(
    raw: Any, default_driver: str = JSON_FILE, default_opts: dict[str, str] | None = None
) -> dict[str, Any]:
    """``HostConfig.LogConfig`` as stored at create: the daemon's driver when none is
    given, its options filled in when the driver is the daemon's (moby's
    ``mergeAndVerifyLogConfig``), then checked."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidParameter("invalid LogConfig")
    driver = raw.get("Type") or default_driver
    if not isinstance(driver, str):
        raise InvalidParameter("invalid LogConfig.Type: expected a string")
    opts = _str_map(raw.get("Config"))
    if driver == default_driver:
        for k, v in (default_opts or {}).items():
            opts.setdefault(k, v)
    validate_log_opts(driver, opts)
    return {"Type": driver, "Config": opts}


def log_policy(log_config: dict[str, Any] | None) -> LogPolicy:
    """The policy of a stored LogConfig; a bad option value is dockerd's start error."""
    log_config = log_config or {}
    driver = log_config.get("Type") or JSON_FILE
    opts = dict(log_config.get("Config") or {})
    try:
        if driver == NONE:
            return LogPolicy(NONE)
        if driver == LOCAL:
            return _local_policy(opts)
        return _json_file_policy(opts)
    except ValueError as e:
        raise InvalidParameter(f"failed to initialize logging driver: {e}") from None


def _json_file_policy(opts: dict[str, str]) -> LogPolicy:
    max_size = 0
    if "max-size" in opts:
        max_size = parse_size(opts["max-size"])
        if max_size <= 0:
            raise ValueError("max-size must be a positive number")
    max_file = 1
    if "max-file" in opts:
        max_file = _atoi(opts["max-file"])
        if max_file < 1:
            raise ValueError("max-file cannot be less than 1")
    compress = False
    if "compress" in opts:
        compress = go_bool(opts["compress"])
        if compress and (max_file == 1 or max_size == 0):
            raise ValueError(
                "compress cannot be true when max-file is less than 2 or max-size is not set"
            )
    return LogPolicy(JSON_FILE, max_size, max_file, compress)


def _local_policy(opts: dict[str, str]) -> LogPolicy:
    max_size, max_file, compress = LOCAL_MAX_SIZE, LOCAL_MAX_FILE, True
    if "max-size" in opts:
        try:
            max_size = parse_size(opts["max-size"])
        except ValueError as e:
            raise ValueError(f"invalid value for max-size: {opts['max-size']}: {e}") from None
    if "max-file" in opts:
        try:
            max_file = _atoi(opts["max-file"])
        except ValueError as e:
            raise ValueError(f"invalid value for max-file: {opts['max-file']}: {e}") from None
    if "compress" in opts:
        try:
            compress = go_bool(opts["compress"])
        except ValueError as e:
            raise ValueError(f"invalid boolean value for compress: {e}") from None
    if max_size < 0:
        raise ValueError("max-size must not be negative")
    if max_file < 0:
        raise ValueError("max-file must not be negative")
    if compress and max_file <= 1:
        raise ValueError("compression cannot be enabled when max file count is 1")
    return LogPolicy(LOCAL, max_size, max(max_file, 1), compress)


# -- Go's parsers, with their error texts ----------------------------------------------
_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_UNITS = "kmgtp"


def parse_size(text: str, binary: bool = False) -> int:
    """go-units ``FromHumanSize`` (decimal: ``10m`` is 10,000,000 bytes), or
    ``RAMInBytes`` with ``binary``."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"invalid size: '{text}'")
    value = float(m.group(1))
    unit = (m.group(2) or "").lower()
    base = 1024 if binary else 1000
    if unit:
        value *= base ** (_UNITS.index(unit) + 1)
    return int(value)


def _atoi(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax') from None
