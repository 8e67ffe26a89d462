"""Import format v1 (JSONL and JSON), its validation, the COPY path and import jobs."""
