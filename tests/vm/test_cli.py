"""``portside machine …`` without a booted guest: settings, keys, the docker context, listing,
removal, and the one-line errors. Booting is covered by tests/vm/test_machine_e2e.py and the
agent's supervision by tests/vm/agent/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from portside.vm import cli
from portside.vm.config import MachineConfig
from portside.vm.context import context_exists
from portside.vm.control import FAILED, RUNNING, MachineState, agent_pid, read_state
from portside.vm.paths import HOME_ENV, MachineDirs


@pytest.fixture(scope="module")
def bundle_dir() -> Path:
    from support.vm_bundle import cached_bundle

    return cached_bundle().root


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "machines"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("PORTSIDE_BUNDLE", str(tmp_path / "no-bundle"))
    return tmp_path / "machines"


def _portside(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    """``portside machine …`` as a user types it, with PySide6 made unimportable."""
    code = (
        "import sys; sys.modules['PySide6'] = None; "
        "from portside.app.main import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {**os.environ, HOME_ENV: str(env_home)}
    return subprocess.run(
        [sys.executable, "-c", code, "machine", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_machine_commands_run_without_qt(home: Path) -> None:
    out = _portside("ls", "--format", "json", env_home=home)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "nosuch"], "machine 'nosuch' does not exist"),
        (["init", "bad/name"], "invalid machine name"),
        (["init", "--cpus", "0"], "at least 1 CPU"),
        (["init", "--memory", "100"], "at least 512 MiB"),
        (["init", "--share", "/does/not/exist"], "not a directory"),
        (["init", "--ports-address", "localhost"], "not an IP address"),
        (["init", "--no-home-share"], "no usable guest bundle"),
        (["logs", "nosuch"], "does not exist"),
        (["rm", "nosuch"], "does not exist"),
        (["inspect", "nosuch"], "does not exist"),
    ],
)
def test_errors_are_one_line_and_exit_1(home: Path, args: list[str], message: str) -> None:
    out = _portside(*args, env_home=home)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("error: ") and message in out.stderr
    assert "Traceback" not in out.stderr
    # Nothing half-made stays behind.
    assert not any(home.glob("*/machine.json")) if home.exists() else True


def test_init_writes_settings_keys_and_context(
    home: Path, tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    args = [
        "init", "--cpus", "1", "--memory", "1024", "--disk", "4",
        "--share", str(shared), "--share", f"{shared}:ro", "--no-home-share",
        "--bundle", str(bundle_dir), "--restrict-network", "dev",
    ]  # fmt: skip
    assert cli.main(args) == 0
    dirs = MachineDirs.of("dev", home)
    config = MachineConfig.load(dirs.config)
    assert (config.cpus, config.memory_mib, config.disk_gib) == (1, 1024, 4)
    assert [s.host_path for s in config.shares] == [str(shared), str(shared)]
    assert [s.read_only for s in config.shares] == [False, True]
    assert config.restrict_network and config.bundle == str(bundle_dir)
    for key in (dirs.client_key, dirs.host_key):
        assert key.stat().st_mode & 0o777 == 0o600
        assert key.with_suffix(".pub").read_text().startswith("ssh-ed25519 ")
    assert context_exists("portside-dev")
    ctx = subprocess.run(
        ["docker", "context", "inspect", "portside-dev"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(ctx.stdout)[0]["Endpoints"]["docker"]["Host"] == (
        f"unix://{dirs.docker_socket}"
    )
    capsys.readouterr()

    assert cli.main(["init", "--bundle", str(bundle_dir), "dev"]) == 1
    assert "already exists" in capsys.readouterr().err

    assert cli.main(["inspect", "dev"]) == 0
    [info] = json.loads(capsys.readouterr().out)
    assert info["State"]["state"] == "stopped"
    assert info["Config"]["cpus"] == 1 and info["DockerContext"] == "portside-dev"

    assert cli.main(["rm", "dev"]) == 0
    assert not dirs.root.exists() and not context_exists("portside-dev")


def test_default_init_shares_home(
    home: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init", "--bundle", str(bundle_dir)]) == 0
    config = MachineConfig.load(MachineDirs.of("default", home).config)
    assert config.name == "default"
    assert [s.host_path for s in config.shares] == [str(Path.home())]
    assert config.ports_address == "127.0.0.1" and not config.restrict_network


def test_ls_corrects_a_state_whose_agent_died(
    home: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init", "--no-home-share", "--bundle", str(bundle_dir), "ghost"]) == 0
    dirs = MachineDirs.of("ghost", home)
    # What an agent killed with SIGKILL leaves: "running", a pid file, no lock holder.
    MachineState(name="ghost", state=RUNNING, agent_pid=999999).save(dirs.state)
    dirs.pid_file.write_text("999999\n")
    capsys.readouterr()
    assert cli.main(["ls", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["State"]["state"] == FAILED
    assert "unexpectedly" in row["State"]["last_error"]
    assert cli.main(["stop", "ghost"]) == 0
    assert "not running" in capsys.readouterr().out


def test_logs_print_console_and_agent_logs(
    home: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init", "--no-home-share", "--bundle", str(bundle_dir), "talk"]) == 0
    dirs = MachineDirs.of("talk", home)
    capsys.readouterr()
    assert cli.main(["logs", "talk"]) == 1
    assert "no console log yet" in capsys.readouterr().err
    dirs.serial_log.write_text("[    0.000000] Linux version 6.1\n")
    dirs.agent_log.write_text("agent says hello\n")
    assert cli.main(["logs", "talk"]) == 0
    assert "Linux version" in capsys.readouterr().out
    assert cli.main(["logs", "--agent", "talk"]) == 0
    assert capsys.readouterr().out == "agent says hello\n"


def test_start_that_fails_is_one_line_and_leaves_nothing_running(
    home: Path, tmp_path: Path, bundle_dir: Path
) -> None:
    assert cli.main(["init", "--no-home-share", "--bundle", str(bundle_dir), "broken"]) == 0
    dirs = MachineDirs.of("broken", home)
    # The bundle went away after init (a cache cleaned, a disk unmounted).
    config = json.loads(dirs.config.read_text())
    config["bundle"] = str(tmp_path / "gone")
    dirs.config.write_text(json.dumps(config))

    out = _portside("start", "broken", env_home=home)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1, out.stderr
    assert "failed to start" in out.stderr and "portside machine logs broken" in out.stderr
    assert "Traceback" not in out.stderr
    assert "checking the guest bundle" in out.stdout  # progress was shown
    st = read_state(dirs)
    assert st.state == FAILED and str(tmp_path / "gone") in st.last_error
    assert not agent_pid(dirs)
    for path in (dirs.agent_socket, dirs.docker_socket, dirs.pid_file):
        assert not path.exists()
    assert "start failed" in dirs.agent_log.read_text()
