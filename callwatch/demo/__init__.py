"""``callwatch demo``: the whole loop on one machine with no accounts and no Docker."""
