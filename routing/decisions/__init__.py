"""Routing a batch: decisions, audits, risk groups, the stored routing runs and the sweeper."""
