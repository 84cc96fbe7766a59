"""Custom item-data roles shared by the models and the views."""

from PySide6.QtCore import Qt

_BASE = int(Qt.ItemDataRole.UserRole)

KEY = _BASE + 1  #: the object's id (container id, image id, volume name, network id)
RECORD = _BASE + 2  #: the engine's JSON object for the row
SORT = _BASE + 3  #: a value that sorts correctly (numbers for sizes and times)
KIND = _BASE + 4  #: "group" or "container" in the containers tree
LINKS = _BASE + 5  #: [(text, url or None)] for cells drawn as links
STATE = _BASE + 6  #: the container state word (running, exited, ...)
