"""Portside engine: distribution."""
