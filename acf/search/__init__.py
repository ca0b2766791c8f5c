"""The search layer: spaces, strategies, proposals, the loop, the frontier, reward and promotion."""
