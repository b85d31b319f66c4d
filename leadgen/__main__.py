"""`python -m leadgen` runs the CLI."""

from leadgen.cli import main

main()
