"""Change data capture: Debezium connectors (config, lifecycle) and the streaming applier.

Streaming, in the order a change travels: :mod:`.decode` (Debezium JSON envelopes ->
:class:`.events.ChangeEvent`), :mod:`.loop_guard` (drop our own writes), :mod:`.batch`
(micro-batches, per-key collapse), :mod:`.apply` with :mod:`.conflicts`, :mod:`.compare`,
:mod:`.apply_sql` and :mod:`.targets` (one transaction per batch and target),
:mod:`.dead_letters`, :mod:`.metrics` (state tables, Prometheus), :mod:`.consumer` (the Kafka
loop, offsets after the database commit) and :mod:`.service` (what the CLI and the DAG run).
"""
