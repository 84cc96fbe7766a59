"""Portside engine: the OCI runtime spec of a container (moby's defaults)."""
