"""Portside app: models."""
