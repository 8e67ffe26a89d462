"""Batches, examples and domains: the rows every stage shares, the label port and the events."""
