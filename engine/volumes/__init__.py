"""Portside engine: volumes."""
