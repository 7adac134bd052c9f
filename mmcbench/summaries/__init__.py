"""Run records into results CSVs: aggregation, selection protocols, the study's results,
the DAG's outcome."""
