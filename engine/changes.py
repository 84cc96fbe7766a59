"""One counter of changes to what the API lists and inspects.

The API keeps the encoded answers of ``GET /containers/json``, the other lists and the
inspections (``api/cached.py``) and reuses one only while this counter has not moved
since it was built. It moves:

- on every metadata write (``store.db``): every change that is persisted,
- on every event (``system.events``): every change a client can be told about,
- on every assignment to a container record or its state (``containers.model``), so a
  container seen exiting (conmon's exit file) is current before its record is saved,
- when live exec sessions come and go (``containers.exec_store``),
- before and after every API request other than ``GET``/``HEAD`` (``api.server``).

One counter for the whole process rather than one per kind of object: any change drops
every kept answer, which costs a rebuild now and then and cannot leave a list out.
"""

from __future__ import annotations

_count = 0


def bump() -> None:
    """Something the API shows may have changed."""
    global _count
    _count += 1


def current() -> int:
    """The counter now: an answer built when it read this is current while it still does."""
    return _count
