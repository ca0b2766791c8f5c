"""Built-in compression methods; each module holds one family, imported when the registry is built."""

from acf import hookimpl


@hookimpl
def register_methods(register):
    from .autoround import AutoRoundMethod
    from .awq import AWQ
    from .bnb import FourBit, Int8
    from .distill import Distill, ProgressiveDistill
    from .gguf import GGUFQuant
    from .gptq import GPTQ
    from .layer_drop import LayerDrop
    from .lora import LoRA, QLoRA
    from .magnitude import MagnitudePruning
    from .per_layer.method import PerLayer
    from .rtn import RoundToNearest
    from .sparsegpt import SparseGPT, Wanda
    from .structured import StructuredPruning

    for method in (
        RoundToNearest,
        MagnitudePruning,
        GPTQ,
        AWQ,
        SparseGPT,
        Wanda,
        Int8,
        FourBit,
        AutoRoundMethod,
        StructuredPruning,
        LayerDrop,
        Distill,
        ProgressiveDistill,
        LoRA,
        QLoRA,
        GGUFQuant,
        PerLayer,
    ):
        register(method)
