"""The guest bundle: built offline from Debian packages, verified against its manifest."""

from .build import build_bundle
from .bundle import Bundle, BundleError, default_bundle_dir

__all__ = ["Bundle", "BundleError", "build_bundle", "default_bundle_dir"]
