"""Portside engine: runtime."""
