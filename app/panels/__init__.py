"""Portside app: panels."""
