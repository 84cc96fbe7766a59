"""Portside engine: ``docker build`` (the classic ``/build`` protocol)."""
