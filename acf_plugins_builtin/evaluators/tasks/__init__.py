"""Task evaluators: the accuracy objectives (`--dataset`), their data and lm-eval's definitions."""
