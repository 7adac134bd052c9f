# Run records (and the deep runs' histories, which the protocol rows read) -> results/runs.csv
# (tidy), results/summary.csv and results/comparison.csv (every paper table's cells, published
# vs reproduced: what the tables, the claims and the overview figure read).
# The summaries are update() outputs: Snakemake keeps the previous files while the job runs and
# puts them back if it fails (a bad record), instead of deleting them; the script writes the new
# ones only once every record has been read and checked.


rule aggregate:
    input:
        records=all_records(),
        histories=table_histories(),
    output:
        runs=update("results/runs.csv"),
        summary=update("results/summary.csv"),
        comparison=update("results/comparison.csv"),
    log:
        "logs/aggregate.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    script:
        "../scripts/aggregate.py"


rule resolution_summary:
    input:
        records=study_records(),
    output:
        study=update("results/resolutions.csv"),
    log:
        "logs/resolution_summary.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        plan=[point.as_row() for point in study_plan()],
        datasets=DATASETS,
    script:
        "../scripts/aggregate.py"
