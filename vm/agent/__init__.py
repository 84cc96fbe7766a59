"""The host agent: one process per running machine, owning QEMU, the link and forwarders."""
