"""Nightly reconciliation: find drift between MySQL and PostgreSQL exactly, then repair it.

Pipeline per table (design decision 4): ``model`` (what to compare) -> ``segments`` (ordinal
ranges) -> ``sqlside``/``compare`` (count + sum of a 60-bit SHA-256 slice per segment, one GROUP BY
scan per side, both databases in parallel) -> ``bisect`` (mismatching segments down to (key, row
hash) pairs) -> ``diff`` (missing / extra / different, differing columns named) -> ``recheck``
(in-flight rows are not drift) -> ``repair`` + ``applier`` (through the stream applier) ->
``store`` (state schema) and ``report`` (JSON + self-contained HTML). ``service`` is what the
DAG and the CLI call. The algorithm knows no SQL; every fragment comes from the dialects
(``canonical_text_sql``, ``row_hash_sql``, ``hash60_sql``, ``bucket32_sql``, ...).

Decisions:

- Row hash: SHA-256 over the canonical texts joined by ``|``; NULL is ``N`` and every string carries
  its length (``3:abc``), so '' vs NULL and a ``|`` inside a value can never collide.
- Segments: a single integer key is its own ordinal (index range scans, parallel key-range
  groups); any other key uses a 32-bit bucket of the SHA-256 of its canonical text, because the two
  engines' collations order strings differently while a hash of the same bytes agrees.
- Floats: the SQL hash covers the exact double (shortest round-trip digits); the declared
  precision (``reconcile.float_digits`` / ``double_digits``, 17 = exact) is applied to the
  doubles client-side, so a difference below it is never reported and a last-bit change is
  found when 17 digits are declared.
- JSON: compared client-side by value (no SQL both engines run prints the same bytes: jsonb
  reorders keys). A pure key reordering or whitespace change is *not* drift (it is not a change
  for jsonb either); any changed key, value, type or array order is, even when reordered too.
- Re-check: suspects are compared again after the stream caught up (a configured delay);
  only rows still different are drift, recorded and repaired. A re-check whose wait timed out
  (changes of the table still in Kafka) repairs nothing in that table: not conclusive.
- Compare-and-set: a repair is written only while, under a lock on the target row in the
  write's transaction, both sides still hold the rows compared; else ``changed_since_compared``.
- Repair: the stream applier's own conflict rule decides rows on both sides
  (``last_writer_wins`` / ``version``, by ``cdc.conflicts``); anything else goes to the
  mapping's authoritative side. The image is the winner's whole synced row, ignored columns
  included (``ignore_columns`` means "not compared"). ``max_repairs`` is per run, all tables
  together: a table that would exceed it is refused as a whole. Every repair is recorded
  (``planned`` before the write, then ``applied``/``failed``); a retried table keeps the
  repairs earlier attempts made and settles the ones they left ``planned`` against the data;
  the run's end marks any still ``planned`` as failed (interrupted) and any table still
  ``running`` as an error, so such a run is ``failed``.
"""
