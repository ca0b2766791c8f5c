"""Built-in searchers: nevergrad (default), random and grid."""

from acf import hookimpl


@hookimpl
def register_searchers(register):
    from .grid import GridSearcher
    from .nevergrad import NevergradSearcher
    from .random import RandomSearcher

    for searcher in (NevergradSearcher, RandomSearcher, GridSearcher):
        register(searcher)
