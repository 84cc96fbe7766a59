"""Portside engine: store."""
