"""`python -m bot` is the `todoku` command."""

from bot.cli import main

main()
