"""Results CSVs into what a reader sees: tables, claims, paper checks, figures, HTML pages."""
