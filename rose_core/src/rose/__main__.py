"""``python -m rose``: the same as the ``rose`` command."""

from rose.cli import main

raise SystemExit(main())
