"""Portside engine: containers.

The names below are this area's public API for ``api/`` (the service itself is
``ContainerService`` in :mod:`.service`, built by the engine); everything else in the
package is internal to it (see ``tests/test_packaging.py``).
"""

from .files.archive import stat_header
from .files.commit import commit_container
from .files.export import export_rootfs
from .stdio.interactive import AttachOptions
from .stdio.logdrivers import LISTED_DRIVERS as LOG_DRIVERS
from .stdio.logs import LogOptions

__all__ = [
    "LOG_DRIVERS",
    "AttachOptions",
    "LogOptions",
    "commit_container",
    "export_rootfs",
    "stat_header",
]
