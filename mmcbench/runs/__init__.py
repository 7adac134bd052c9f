"""What one run writes and is judged by: its record, history, metrics, health and provenance."""
