"""``python -m portside.engine`` runs the daemon."""

import sys

from .daemon import main

sys.exit(main())
