"""`python -m analyzer` is the `dualstack` command."""

import sys

from analyzer.cli import main

sys.exit(main())
