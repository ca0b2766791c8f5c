"""The contracts between acf's parts: pydantic models (and the plain run-option table) that import nothing of acf
but its errors. Their JSON dumps are the run directory."""
