"""Test support code (fake services over real HTTP)."""
