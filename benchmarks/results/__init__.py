"""Read a run folder (docs/RESULTS.md) and turn it into figures, charts, a page and a verdict."""
