# Deep runs: GIB and its ablations, per dataset, variant, (α, β) and seed.


rule train:
    input:
        "resources/hdf5/{dataset}.h5",
    output:
        record="results/runs/{method}/{dataset}/{variant}/a{alpha}_b{beta}/seed{seed}.json",
        history="results/runs/{method}/{dataset}/{variant}/a{alpha}_b{beta}/seed{seed}.history.csv",
        embeddings="results/runs/{method}/{dataset}/{variant}/a{alpha}_b{beta}/seed{seed}.embeddings.npz",
    log:
        "logs/runs/{method}/{dataset}/{variant}/a{alpha}_b{beta}/seed{seed}.log",
    benchmark:
        "logs/benchmarks/{method}/{dataset}/{variant}/a{alpha}_b{beta}/seed{seed}.tsv"
    wildcard_constraints:
        method="GIB",
        variant=r"GIB|DDC|DDC\+Balls|DDC\+Samples",
        alpha=r"[0-9.]+",
        beta=r"[0-9.]+",
    conda:
        "../envs/mmcbench.yaml"
    threads: config["gib"]["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        cli=MMCBENCH,
        hparams=gib_hparams(),
        embeddings=" ".join(str(e) for e in config["gib"]["embeddings_at"]),
        device=config["gib"]["device"],
    shell:
        "{params.cli} train --method {wildcards.method} --variant {wildcards.variant}"
        " --data {input} --seed {wildcards.seed} --alpha {wildcards.alpha}"
        " --beta {wildcards.beta} --hparams {params.hparams}"
        " --embeddings-at {params.embeddings} --device {params.device} --threads {threads}"
        " --out {output.record} > {log} 2>&1"
