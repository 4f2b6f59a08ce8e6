"""`python -m drafter` runs the command-line interface."""

from drafter.cli import main

main()
