"""``python -m omicsformer``: the same command line as ``omicsformer``."""

import sys

from omicsformer.cli import main

sys.exit(main())
