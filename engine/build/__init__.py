"""The classic (non-BuildKit) image builder behind ``POST /build``."""
