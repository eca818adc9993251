"""``python -m omicsformer.cli``: the same command line as ``omicsformer``."""

import sys

from omicsformer.cli import main

sys.exit(main())
