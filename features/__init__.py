"""The feature store: catalogue, validation, DuckDB ingest, point-in-time frames and derived scores."""
