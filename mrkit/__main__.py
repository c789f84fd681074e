"""`python -m mrkit` is the `mrkit` command."""

from mrkit.cli import main

raise SystemExit(main())
