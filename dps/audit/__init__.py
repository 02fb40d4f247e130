"""The append-only, hash-chained audit log: one event per state change, written in the same transaction."""
