"""Portside Machine: the QEMU-managed Linux VM that hosts the engine where it cannot run
natively (macOS, Windows, and Linux users who are not root).

Packages, each with one job:

- ``image``: builds and verifies the guest bundle (kernel, initrd, qcow2 disk, manifest).
- ``qemu``: the QEMU command line (a pure ``argv()``), QMP, the accelerator choice and the
  ``Machine`` that owns one QEMU process.
- ``link``: the SSH link to the guest (paramiko, pinned host key), the forwarded engine
  socket and the published-port forwarders.
- ``agent``: the host agent, one process per running machine, that owns QEMU, the link and
  the forwarders; the CLI and the app talk to it.
- ``config``/``paths``/``seed``: a machine's settings, where its files live, and the
  first-boot seed the guest applies.
"""
