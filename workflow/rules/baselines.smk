# Baselines (benchmark.catalogue): single-view ones per view, the others on all views.


rule baseline:
    input:
        "resources/hdf5/{dataset}.h5",
    output:
        "results/runs/{method}/{dataset}/{variant}/seed{seed}.json",
    log:
        "logs/runs/{method}/{dataset}/{variant}/seed{seed}.log",
    benchmark:
        "logs/benchmarks/{method}/{dataset}/{variant}/seed{seed}.tsv"
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
