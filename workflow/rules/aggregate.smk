# Run records -> results/runs.csv (tidy) and results/summary.csv.


rule aggregate:
    input:
        records=all_records(),
    output:
        runs="results/runs.csv",
        summary="results/summary.csv",
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
        study="results/resolutions.csv",
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
