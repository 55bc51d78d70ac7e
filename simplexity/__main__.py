"""`python -m simplexity [key=value ...]`: the same as `simplexity-train`."""

from simplexity.commands import train

train()
