"""The guest bundle: built offline from Debian packages, verified against its manifest."""
