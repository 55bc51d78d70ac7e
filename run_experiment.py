#!/usr/bin/env python
"""Trains a predictive model on a generative process: `python run_experiment.py [key=value ...]`.

The same command as `simplexity-train` (`simplexity.commands.train`). The configs live in `configs/`;
`python run_experiment.py --help` lists the config groups and options.
"""

from simplexity.commands import train

if __name__ == "__main__":
    train()
