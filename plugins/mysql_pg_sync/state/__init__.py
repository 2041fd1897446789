"""The sync metadata schema in the target PostgreSQL database (schema ``mps_sync``)."""
