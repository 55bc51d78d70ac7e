"""The Hydra configs of `simplexity-train` and `simplexity-analyze`, shipped with the package."""
