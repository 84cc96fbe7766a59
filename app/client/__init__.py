"""Async Docker Engine API client shared by the app and the CLI. Imports nothing from Qt."""
