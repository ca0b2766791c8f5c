"""Built-in experiment trackers."""

from acf import hookimpl


@hookimpl
def register_trackers(register):
    from .mlflow import MLflowTracker

    register(MLflowTracker)
