from __future__ import annotations

import sys

from mysql_pg_sync.cli import main

sys.exit(main())
