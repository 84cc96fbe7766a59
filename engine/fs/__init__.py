"""Portside engine: tar and path safety shared by images and containers.

Reading and writing tar streams (``tarformat``, ``tarwrite``), extracting them without
ever writing through a symlink or outside the target (``tarsafe``, ``pathsafe``,
``archive_extract``), resolving paths inside a container's root as if chrooted
(``pathresolve``) and feeding a worker thread from the event loop (``stream``).
"""
