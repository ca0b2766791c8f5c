"""Built-in searchers: nevergrad (default), random, grid and agent (an LLM proposing to nevergrad)."""

from acf import hookimpl


@hookimpl
def register_searchers(register):
    from .agent.searcher import AgentSearcher
    from .grid import GridSearcher
    from .nevergrad import NevergradSearcher
    from .random import RandomSearcher

    for searcher in (NevergradSearcher, RandomSearcher, GridSearcher, AgentSearcher):
        register(searcher)
