"""Many engines at once: which engines exist (``catalog``, Qt-free), one live session per
engine with its own models (``session``), the set of them (``registry``), the merged
"All engines" tables (``overview``) and the host-key question for SSH engines
(``hostkey_dialog``)."""
