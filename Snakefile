# mmcbench: reproduce GIB / CLIB (their tables, ablations, reliability diagrams) against the
# classical baselines.
# Usage: snakemake --cores 8 --use-conda all            (paper setting, config/config.yaml)
#        snakemake --cores 2 --configfile config/demo.yaml  (embedded default, offline)
import os
import sys

from snakemake.utils import min_version

min_version("9.14.8")

# The package lives beside this Snakefile: importable here, and in every job through the
# command common.smk builds (also inside --use-conda environments, where it is not installed).
sys.path.insert(0, workflow.basedir)

from mmcbench.planning.config import validated_config

if not workflow.configfiles:

    configfile: os.path.join(workflow.basedir, "config/config.yaml")


SCHEMA = os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
# The schema with clear messages, its defaults filled in (snakemake.utils.validate), then the
# rules that join keys; the same function checks `mmcbench estimate`'s config.
validated_config(
    config,
    SCHEMA,
    workflow.configfiles,
    workflow.config_settings.config,
)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/figures.smk"


onstart:
    # The devices asked for, where jobs run on this machine: known only now (Snakemake sets
    # its executor after reading this file), before any job runs or any output is removed.
    # Under SLURM the GPU nodes decide.
    if workflow.local_exec and not workflow.remote_exec:
        from snakemake.exceptions import WorkflowError
        from mmcbench.planning.config import check_devices
        from mmcbench.core.errors import ConfigError

        try:
            check_devices(
                config, workflow.configfiles, workflow.config_settings.config
            )
        except ConfigError as exc:
            raise WorkflowError(str(exc)) from None


onsuccess:
    from mmcbench.summaries.outcome import dag_summary

    print(
        dag_summary(
            all_records()
            + grid_records()
            + reading_grid_records()
            + study_records(),
            table_targets() + resolution_targets(),
            [str(f) for f in workflow.configfiles],
        )
    )


rule all:
    default_target: True
    input:
        "results/runs.csv",
        "results/summary.csv",
        table_targets(),
        "results/claims.csv",
        "results/published_audit.csv",
        "results/paper_checks.csv",
        figure_targets(),
        resolution_targets(),
