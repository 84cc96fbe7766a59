"""Runtime errors in Docker's wording: crun's messages (as crun 1.8 prints them) become
runc's, which the docker CLI reads for its exit codes; runc's logrus output is reduced to
its error line."""

from __future__ import annotations

import pytest
from portside.engine.runtime.messages import docker_wording, error_text

START = "unable to start container process: "


@pytest.mark.parametrize(
    ("crun", "command", "runc"),
    [
        (
            "executable file `nosuchcmd` not found in $PATH: No such file or directory",
            "nosuchcmd",
            START + 'exec: "nosuchcmd": executable file not found in $PATH',
        ),
        (
            "executable file `/bin/nope` not found in $PATH: No such file or directory",
            "/bin/nope",
            START + 'exec: "/bin/nope": stat /bin/nope: no such file or directory',
        ),
        (
            "open executable: Permission denied",
            "/etc/passwd",
            START + 'exec: "/etc/passwd": permission denied',
        ),
        (
            "open executable: Operation not permitted",
            "/etc",
            START + 'exec: "/etc": permission denied',
        ),
        (
            "chdir `/etc/passwd`: Not a directory",
            "true",
            START + 'chdir to cwd ("/etc/passwd") set in config.json failed: not a directory',
        ),
        # anything else keeps the runtime's own words
        (
            "writing file `cpuset.cpus`: Numerical result out of range",
            "true",
            "writing file `cpuset.cpus`: Numerical result out of range",
        ),
    ],
)
def test_crun_messages_in_runcs_words(crun: str, command: str, runc: str) -> None:
    assert docker_wording(crun, command) == runc
    assert docker_wording(crun, command, exec_=True) == (
        "exec failed: " + runc if runc.startswith(START) else runc
    )


def test_runc_wording_is_kept() -> None:
    text = START + 'exec: "x": executable file not found in $PATH'
    assert docker_wording(text, "x") == text


def test_error_text_takes_runcs_last_error_line() -> None:
    stderr = (
        'time="2026-12-02T17:35:19Z" level=warning msg="unable to get oom kill count" '
        'error="openat2 /sys/fs/cgroup/memory/x/memory.oom_control: no such file or directory"\n'
        'time="2026-12-02T17:35:19Z" level=error msg="runc create failed: unable to start '
        'container process: exec: \\"nosuchcmd\\": executable file not found in $PATH"\n'
    )
    assert error_text(stderr) == (
        'runc create failed: unable to start container process: exec: "nosuchcmd": '
        "executable file not found in $PATH"
    )


def test_error_text_of_crun_is_its_last_line_without_the_prefix() -> None:
    assert error_text("crun: open executable: Permission denied\n") == (
        "open executable: Permission denied"
    )
    assert error_text("") == ""


def test_one_exit_code_rule_for_processes_that_cannot_start():
    from portside.engine.runtime.messages import process_exit_code

    not_found = 'exec: "nope": executable file not found in $PATH'
    assert process_exit_code(not_found) == 127
    assert process_exit_code('exec: "/x": stat /x: no such file or directory') == 127
    assert process_exit_code('exec: "/etc": permission denied') == 126
    assert process_exit_code("cgroup setup failed") is None
