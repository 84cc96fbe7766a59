"""What keeps the app's resident memory down: PySide6's import hook answered without
``linecache``, httpx without its command-line tool, no CA bundle for plain transports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from portside.app.client import EngineAddress
from portside.app.client.address import unused_tls_context
from portside.app.client.client import _transport


def _run(code: str, cwd: Path | None = None) -> str:
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_pyside_import_hook_gets_its_answer_without_linecache(tmp_path):
    (tmp_path / "uses_qt.py").write_text("from PySide6.QtCore import QObject\n")
    (tmp_path / "plain_module.py").write_text("VALUE = 1\n")
    out = _run(
        """
        import linecache, sys
        sys.path.insert(0, ".")
        import PySide6.QtCore
        from portside.app import memory
        memory.read_sources_once()
        linecache.clearcache()
        import uses_qt, plain_module
        feature = sys.modules["shibokensupport.feature"]
        print(len(linecache.cache), feature.pyside_feature_dict["uses_qt"],
              feature.pyside_feature_dict["plain_module"])
        """,
        cwd=tmp_path,
    )
    # Nothing kept, and the same verdicts inspect.getsource gave: 0 = uses PySide6
    # (features apply), -1 = ignored.
    assert out.split() == ["0", "0", "-1"]


def test_httpx_command_line_tool_is_not_imported():
    out = _run(
        """
        import sys
        import portside.app.client
        print(sorted(m for m in ("httpx._main", "rich", "click", "pygments") if sys.modules.get(m)))
        """
    )
    assert out == "[]"


def test_plain_transports_load_no_ca_bundle():
    ctx = unused_tls_context()
    assert ctx.cert_store_stats()["x509_ca"] == 0
    for url in ("unix:///run/nothing.sock", "tcp://127.0.0.1:2375"):
        transport = _transport(EngineAddress(url), None)
        assert transport._pool._ssl_context is ctx  # type: ignore[attr-defined]
