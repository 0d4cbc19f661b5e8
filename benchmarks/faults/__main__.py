"""`python -m benchmarks.faults`: run the fault scenarios and write their figures."""

import sys

from benchmarks.faults.cli import main

sys.exit(main())
