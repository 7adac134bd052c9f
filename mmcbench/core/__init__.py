"""Shared plumbing: clear errors, atomic writes, checked CSV reading, settings key groups."""
