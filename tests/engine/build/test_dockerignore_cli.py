"""``DockerIgnore`` against the real thing: the docker CLI's classic builder applies
``.dockerignore`` with moby's patternmatcher before it sends the context to dockerd, so
the files that reach the image are the reference for ``matches``."""

from __future__ import annotations

from pathlib import Path

from portside.engine.dockerignore import DockerIgnore

FILES = [
    "a.txt",
    "b.log",
    "keep.log",
    "dir/x.txt",
    "dir/y.log",
    "dir/sub/z.txt",
    "dir/sub/deep/w.md",
    "docs/readme.md",
    "docs/api/index.md",
    "docs/api/v1/spec.md",
    "docs/api/notes.txt",
    "node_modules/pkg/index.js",
    "src/node_modules/local.js",
    "build/out.o",
    "build/keep/me.txt",
    "src/build/gen.c",
    "tmp/t",
    "src/tmp/t2",
    "src/main.c",
    "src/a1.c",
    "src/ab.c",
    "src/[x].c",
    ".git/config",
    "space name.txt",
    "lib/x.pyc",
    "lib/keep.pyc",
]

IGNORE = """\
# comments and blank lines are skipped

*.log
!keep.log
dir/sub
!dir/sub/deep
docs/**/*.md
!docs/readme.md
node_modules
/build
!build/keep
**/tmp
.git
src/a?.c
src/\\[x].c
 space name.txt
lib/*.pyc
!lib/keep.pyc
./src/build
"""


def test_the_docker_cli_sends_what_matches_predicts(dockerd, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    for name in FILES:
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (ctx / ".dockerignore").write_text(IGNORE)
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nCOPY . /ctx\n")
    dockerd.docker("build", "-q", "-t", "ignore-check", str(ctx))
    listing = dockerd.docker(
        "run", "--rm", "--network", "none", "ignore-check", "find", "/ctx", "-type", "f"
    ).stdout
    sent = {line.removeprefix("/ctx/") for line in listing.splitlines() if line}

    ignore = DockerIgnore.parse(IGNORE.encode())
    predicted = {
        name for name in [*FILES, ".dockerignore", "Dockerfile"] if not ignore.matches(name)
    }
    assert sent == predicted
    # and the walker shortcut never skips a directory that still holds a sent file
    for name in sent:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            assert ignore.may_match_inside("/".join(parts[:depth])), name
