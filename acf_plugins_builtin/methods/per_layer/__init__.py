"""Per-layer quantization: a setting per decoder block and projection group, found by a sensitivity prior and an
evolutionary search on the KL divergence to the uncompressed model, assembled from a database of quantized
tensors and exported as one compressed-tensors checkpoint with a config group per setting."""
