"""`python -m vgrad`: see vgrad.cli."""

import sys

from vgrad.cli import main

sys.exit(main())
