"""The host agent: one process per running machine, owning QEMU, the link and forwarders.

``host`` supervises the machine, ``stale`` recovers from a dead predecessor, ``watchdog``
stops QEMU when the agent dies; ``python -m portside.vm.agent <machine-dir>`` runs it.
"""
