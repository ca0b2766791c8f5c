"""Models: resolving names, the spec inferred from config.json, loading, model-family adapters and export."""
