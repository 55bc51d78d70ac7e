"""Analyses a training run's belief-state geometry: `python run_analysis.py run_dir=<run directory> [key=value ...]`.

The same command as `simplexity-analyze` (`simplexity.commands.analyze`). Writes `analysis.json` and PNG figures
into the run directory (or `output_dir=`); `configs/analyze.yaml` lists the options.
"""

from simplexity.commands import analyze

if __name__ == "__main__":
    analyze()
