"""Scoring a model on text: log-likelihoods, multiple choice, greedy generation, in transformers or through a
runtime."""
