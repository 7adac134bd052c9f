# Baselines (mmcbench.planning.catalogue): single-view ones per view, the others on all views.


rule baseline:
    input:
        "resources/hdf5/{dataset}.h5",
    output:
        run_pattern(".json", deep=False),
    log:
        run_pattern(".log", deep=False, root="logs/runs"),
    benchmark:
        run_pattern(".tsv", deep=False, root="logs/benchmarks")
    wildcard_constraints:
        method=BASELINE_METHOD_PATTERN,
        variant=r"view\d+|all",
    group:
        "baseline"  # packs of runs per SLURM job (--group-components in the SLURM profiles)
    conda:
        "../envs/mmcbench.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        cli=MMCBENCH,
        flags=baseline_flags(),
    shell:
        "{params.cli} baseline --method {wildcards.method} --variant {wildcards.variant}"
        " --data {input} --seed {wildcards.seed} --out {output} {params.flags} > {log} 2>&1"
