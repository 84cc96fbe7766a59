"""Portside engine: a container's files (rootfs, /etc files, archive, diff, commit, export)."""
