"""``python -m cookiesess``: the command line (see `cookiesess.cli`)."""

from __future__ import annotations

from cookiesess.cli import main

raise SystemExit(main())
