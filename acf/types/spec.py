"""ModelSpec: what acf learns about a model from its config.json alone (no weights are read)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ModelSpec(BaseModel):
    """Architecture, sizes and derived defaults of a causal LM, inferred from its config."""

    source: str = Field(description="what the user gave: alias, folder or Hub id")
    path: str | None = Field(None, description="local folder holding config and weights, once resolved")
    hub_id: str | None = None
    model_type: str
    architecture: str | None = None
    num_parameters: int
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int | None = None
    tie_word_embeddings: bool = False
    gated_mlp: bool = True
    num_experts: int = 1
    dtype: str = "float32"
    memory_bytes: dict[str, int] = Field(default_factory=dict, description="weights at each precision")
    linear_input_widths: list[int] = Field(default_factory=list)
    valid_group_sizes: list[int] = Field(default_factory=list, description="-1 means per output channel")
    applicable_methods: list[str] = Field(default_factory=list)
    calibration_samples: int = 128
    calibration_seq_len: int = 512
    trust_remote_code_required: bool = False

    @property
    def weight_bytes(self) -> int:
        return self.memory_bytes.get(self.dtype, int(self.num_parameters * 4))
