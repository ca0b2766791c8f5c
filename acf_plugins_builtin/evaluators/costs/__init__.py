"""Cost evaluators: size on disk, latency, memory, throughput and energy of a candidate deployed on a runtime."""
