# Saved run outputs -> figures (restyling a figure never retrains anything).


rule reliability:
    input:
        unpack(full_model_embeddings),
    output:
        report(
            "figures/reliability/{dataset}.png",
            caption="../report/reliability.rst",
            category="Figures",
            subcategory="Reliability diagrams",
        ),
    log:
        "logs/figures/reliability/{dataset}.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        runs=lambda wildcards, input: " ".join(
            f"--runs {method} {' '.join(input[method])}" for method in input.keys()
        ),
    shell:
        "{params.cli} reliability --dataset {wildcards.dataset} {params.runs}"
        " --out {output} > {log} 2>&1"
