"""``--change`` instructions for import."""

from __future__ import annotations

import pytest
from portside.engine.errors import InvalidParameter
from portside.engine.images.changes import apply_changes


def test_all_supported_instructions():
    cfg = apply_changes(
        {},
        [
            'CMD ["sh", "-c", "echo hi"]',
            "ENTRYPOINT /bin/run --flag",
            'ENV A=1 B="two words"',
            "ENV LEGACY some value",
            "ENV A=3",
            "EXPOSE 80 443/tcp 53/udp 8000-8002",
            'LABEL com.example.a=x "com.example.b"="y z"',
            "USER nobody:nogroup",
            "WORKDIR /srv",
            "WORKDIR app",
            'VOLUME ["/data", "/logs"]',
            "VOLUME /cache",
            "STOPSIGNAL SIGINT",
            "ONBUILD RUN echo later",
            "HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost",
        ],
    )
    assert cfg["Cmd"] == ["sh", "-c", "echo hi"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/run --flag"]
    assert cfg["Env"] == ["B=two words", "LEGACY=some value", "A=3"]
    assert cfg["ExposedPorts"] == {
        "80/tcp": {},
        "443/tcp": {},
        "53/udp": {},
        "8000/tcp": {},
        "8001/tcp": {},
        "8002/tcp": {},
    }
    assert cfg["Labels"] == {"com.example.a": "x", "com.example.b": "y z"}
    assert cfg["User"] == "nobody:nogroup"
    assert cfg["WorkingDir"] == "/srv/app"
    assert cfg["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}}
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["OnBuild"] == ["RUN echo later"]
    assert cfg["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q localhost"],
        "Interval": 5_000_000_000,
        "Retries": 2,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("RUN echo no", "RUN is not a valid change command"),
        ("FROM busybox", "FROM is not a valid change command"),
        ("BOGUS x", "unknown instruction: BOGUS"),
        ("EXPOSE 99999", "invalid port range"),
        ("EXPOSE http", "invalid port"),
        ("ENV", "requires at least one argument"),
        ("WORKDIR", "requires exactly one argument"),
        ("HEALTHCHECK --nope=1 CMD true", "unknown HEALTHCHECK flag"),
    ],
)
def test_bad_changes(change, message):
    with pytest.raises(InvalidParameter) as exc:
        apply_changes({}, [change])
    assert message in exc.value.message
