"""Portside engine: system."""
