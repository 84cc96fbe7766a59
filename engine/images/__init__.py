"""Portside engine: images."""
