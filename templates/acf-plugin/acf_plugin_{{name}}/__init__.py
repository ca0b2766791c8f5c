"""acf plugin {{name}}: registered through the `acf` entry point in pyproject.toml."""

from acf import hookimpl


@hookimpl
def register_methods(register):
    from .method import RoundToBF16

    register(RoundToBF16)


@hookimpl
def register_evaluators(register):
    from .evaluator import ZeroFraction

    register(ZeroFraction)
