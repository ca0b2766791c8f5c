"""`python -m acf` runs the CLI."""

from acf.cli import main

main()
