"""``python -m portside.app`` runs the desktop app."""

import sys

from .main import main

sys.exit(main())
