"""``python -m glassnet.cli``: the ``glassnet`` command without its console script."""
import sys

from . import main

sys.exit(main())
