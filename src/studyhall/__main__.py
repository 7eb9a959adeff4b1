"""``python -m studyhall`` is the ``studyhall`` command."""

from studyhall.cli import main

main()
