"""Prints one table of every run under a multirun directory: `python scripts/summarize_runs.py DIR [--json]`.

Columns: the run's directory, status (`ok` or `failed`), final training loss, final validation loss, final excess
loss over the optimum, mean steps/s, and the config keys that tell the run apart from the others. The table is
`simplexity.load_sweep(DIR)` (a pandas DataFrame, for a notebook), printed by `simplexity.sweeps.summary`.
"""

import sys

from simplexity.sweeps.summary import main

if __name__ == "__main__":
    sys.exit(main())
