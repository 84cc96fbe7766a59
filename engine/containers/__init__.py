"""Portside engine: containers."""
