"""The Hydra configs of `simplexity-train` and `simplexity-analyze`.

This folder, `configs/` at the repository root, is their one copy. The wheel installs it as the package
`simplexity.configs` (the package-dir mapping of pyproject.toml), the YAMLs as its package data.
"""
