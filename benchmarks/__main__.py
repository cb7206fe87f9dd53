"""`python -m benchmarks [--quick]`: run every benchmark and print one table."""

import sys

from benchmarks.run import main

sys.exit(main())
