"""Portside's engine: ``portsided``, a daemon that serves the Docker Engine API."""

API_VERSION = "1.47"
MIN_API_VERSION = "1.24"
__version__ = "0.1.0"
