"""The docker CLI's context for a machine, written straight into the CLI's context store.

``docker context create`` would need the docker CLI installed at ``machine init`` time; the
store is a documented, stable layout (``contexts/meta/<sha256 of the name>/meta.json``), so
writing it ourselves works whether or not the CLI is there yet.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path


def docker_config_dir() -> Path:
    """``$DOCKER_CONFIG``, else ``~/.docker`` (as the docker CLI decides)."""
    override = os.environ.get("DOCKER_CONFIG")
    return Path(override) if override else Path.home() / ".docker"


def context_name(machine: str) -> str:
    """The docker context of machine ``machine``."""
    return f"portside-{machine}"


def _meta_dir(name: str, config_dir: Path) -> Path:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return config_dir / "contexts" / "meta" / digest


def write_context(
    name: str, socket: Path, description: str, config_dir: Path | None = None
) -> Path:
    """Create or replace context ``name`` pointing at the unix socket ``socket``."""
    meta_dir = _meta_dir(name, config_dir or docker_config_dir())
    meta_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "Name": name,
        "Metadata": {"Description": description},
        "Endpoints": {"docker": {"Host": f"unix://{socket}", "SkipTLSVerify": False}},
    }
    path = meta_dir / "meta.json"
    tmp = path.with_name("meta.json.tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, path)
    return path


def context_exists(name: str, config_dir: Path | None = None) -> bool:
    return (_meta_dir(name, config_dir or docker_config_dir()) / "meta.json").is_file()


def remove_context(name: str, config_dir: Path | None = None) -> None:
    """Remove context ``name``; if the CLI's current context was it, fall back to the default
    (as ``docker context rm`` does), so the CLI is not left pointing at nothing."""
    base = config_dir or docker_config_dir()
    shutil.rmtree(_meta_dir(name, base), ignore_errors=True)
    shutil.rmtree(base / "contexts" / "tls" / hashlib.sha256(name.encode()).hexdigest(), True)
    config_file = base / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return
    if isinstance(config, dict) and config.get("currentContext") == name:
        del config["currentContext"]
        tmp = config_file.with_name("config.json.tmp")
        tmp.write_text(json.dumps(config, indent="\t"))
        os.replace(tmp, config_file)
