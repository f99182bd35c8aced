"""Sub-commands of the ``semapose`` CLI (see semapose.cli)."""
