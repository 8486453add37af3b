"""`python -m mlkube.cli`."""

import sys

from mlkube.cli import main

if __name__ == "__main__":
    sys.exit(main())
