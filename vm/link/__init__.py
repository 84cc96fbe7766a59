"""The SSH link to a machine or remote host: pinned host key, streamlocal to the engine
socket, the host-side ``docker.sock`` and the published-port forwarders."""
