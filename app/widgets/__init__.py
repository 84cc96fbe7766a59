"""Portside app: widgets."""
