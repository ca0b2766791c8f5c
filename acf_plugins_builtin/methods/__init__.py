"""Built-in compression methods; each module holds one method, imported when the registry is built."""

from acf import hookimpl


@hookimpl
def register_methods(register):
    from .magnitude import MagnitudePruning
    from .rtn import RoundToNearest

    register(RoundToNearest)
    register(MagnitudePruning)
