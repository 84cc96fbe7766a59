"""The details of one container: logs, inspect, stats, exec terminal, files."""
