"""`python -m simplexity.sweeps DIR [--json]`: the summary of every run under a multirun directory."""

import sys

from simplexity.sweeps.summary import main

sys.exit(main())
