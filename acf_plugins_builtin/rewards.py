"""Built-in reward presets: balanced, accuracy, latency, size."""

from acf import RewardPreset, hookimpl


class Balanced(RewardPreset):
    name = "balanced"
    default = True
    description = "accuracy and size alike; latency and memory count half"
    category_weights = {"accuracy": 1.0, "size": 1.0, "latency": 0.5, "memory": 0.5, "energy": 0.5}


class Accuracy(RewardPreset):
    name = "accuracy"
    description = "keep accuracy first; compress where it costs little"
    category_weights = {"accuracy": 4.0, "size": 1.0, "latency": 0.5, "memory": 0.5, "energy": 0.5}


class Latency(RewardPreset):
    name = "latency"
    description = "speed first; adds latency_ms to the frontier's objectives"
    category_weights = {"accuracy": 1.0, "size": 0.5, "latency": 3.0, "memory": 0.5, "energy": 0.5}
    extra_objectives = ("latency_ms",)


class Size(RewardPreset):
    name = "size"
    description = "smallest model that keeps accuracy"
    category_weights = {"accuracy": 1.0, "size": 3.0, "latency": 0.25, "memory": 1.0, "energy": 0.25}


@hookimpl
def register_reward_presets(register):
    for preset in (Balanced, Accuracy, Latency, Size):
        register(preset)
