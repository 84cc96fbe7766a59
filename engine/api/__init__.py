"""Portside engine: api."""
