"""Portside desktop app (PySide6 + qasync)."""
