"""The `agent` searcher: an LLM reads the run and proposes strategies, which nevergrad runs and learns from."""
