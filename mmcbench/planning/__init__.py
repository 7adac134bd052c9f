"""From a config to a plan: validation, the catalogue, run paths, the study, the plan and
its cost."""
