"""The type system: the type map as data and the converters, in both directions.

- :mod:`.typemap`: MySQL ``COLUMN_TYPE`` -> PostgreSQL type and *kind* (one table of rules).
- :mod:`.convert`: per value, MySQL <-> PostgreSQL (the stream, row-by-row paths).
- :mod:`.debezium`: Debezium JSON-with-schema values -> driver values, then :mod:`.convert`.
- :mod:`.arrow`: vectorized MySQL -> PostgreSQL over connectorx's Arrow output (backfill).
- :mod:`.arrow_reverse`: vectorized PostgreSQL -> MySQL over ADBC's Arrow output.
- :mod:`.drivers`: mysqlclient / psycopg settings that keep zero dates, infinities, JSON text.
"""
