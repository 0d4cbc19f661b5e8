"""`python -m benchmarks.faults`: run the fault scenarios and write their figures."""

import sys

from benchmarks.faults.scenarios import main

sys.exit(main())
