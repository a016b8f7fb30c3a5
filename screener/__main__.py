"""``python -m screener``: the same as the ``screener`` command."""

import sys

from screener.cli.main import main

sys.exit(main())
