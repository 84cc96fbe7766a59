"""Portside engine: networks."""
