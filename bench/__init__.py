"""Benchmarks: `make bench` (req/s against gunicorn on PostgreSQL). Never asserted in tests."""
