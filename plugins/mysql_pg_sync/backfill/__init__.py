"""Initial MySQL -> PostgreSQL copy: chunk planning, fast Arrow copy, resumable state, handoff to
streaming. Entry point: :class:`mysql_pg_sync.backfill.runner.Backfill`; see docs/backfill.md."""
