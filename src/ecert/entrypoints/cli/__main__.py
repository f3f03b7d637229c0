"""``python -m ecert.entrypoints.cli``: the ``ecert`` command."""

from ecert.entrypoints.cli import main

main()
