"""`python -m analyzer` is the `dualstack` command."""

import sys

from analyzer.cli import main

if __name__ == "__main__":
    sys.exit(main())
