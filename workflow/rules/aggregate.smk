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
