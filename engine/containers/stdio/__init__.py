"""Portside engine: a container's stdio (attach, exec sessions' streams, TTY, logs)."""
