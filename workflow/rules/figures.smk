# Saved run outputs and CSVs -> figures (PNG + PDF); restyling a figure never retrains anything.


rule reliability:
    input:
        unpack(full_model_embeddings),
    output:
        report(
            "figures/reliability/{dataset}.png",
            caption="../report/reliability.rst",
            category="CLIB paper",
            subcategory="Reliability diagrams",
            labels={"figure": "reliability", "dataset": "{dataset}"},
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


rule grid_summary:
    input:
        records=grid_records() + reading_grid_records(),
    output:
        grid=update("results/grid.csv"),  # kept as it was if the job fails (aggregate.smk)
    log:
        "logs/grid_summary.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    script:
        "../scripts/aggregate.py"


rule grid_figure:
    input:
        "results/grid.csv",
    output:
        png=report(
            "figures/grid/{method}_{dataset}_{metric}.png",
            caption="../report/grid.rst",
            category="{method} paper",
            subcategory="α/β grid",
            labels={"figure": "grid", "dataset": "{dataset}", "metric": "{metric}"},
        ),
        pdf="figures/grid/{method}_{dataset}_{metric}.pdf",
    log:
        "logs/figures/grid/{method}_{dataset}_{metric}.log",
    wildcard_constraints:
        method=DEEP_METHOD_PATTERN,
        metric="ACC|NMI|ARI|ECE",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        style=config["figures"]["grid_style"],
        epochs=lambda wildcards: catalogue.total_epochs(
            wildcards.method, deep_section(wildcards.method), wildcards.method
        ),
    shell:
        "{params.cli} plot grid --grid {input} --method {wildcards.method}"
        " --dataset {wildcards.dataset} --metric {wildcards.metric} --style {params.style}"
        " --epochs {params.epochs}"
        " --out-prefix figures/grid/{wildcards.method}_{wildcards.dataset}_{wildcards.metric}"
        " > {log} 2>&1"


rule convergence_figure:
    input:
        lambda wildcards: full_model_runs(
            wildcards.method, wildcards.dataset, ".history.csv"
        ),
    output:
        png=report(
            "figures/convergence/{method}_{dataset}.png",
            caption="../report/convergence.rst",
            category="{method} paper",
            subcategory="Training curves",
            labels={"figure": "convergence", "dataset": "{dataset}"},
        ),
        pdf="figures/convergence/{method}_{dataset}.pdf",
    log:
        "logs/figures/convergence/{method}_{dataset}.log",
    wildcard_constraints:
        method=DEEP_METHOD_PATTERN,
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        setting=lambda wildcards: method_setting_flags(wildcards.method),
    shell:
        "{params.cli} plot convergence --method {wildcards.method}"
        " --dataset {wildcards.dataset} --histories {input} {params.setting}"
        " --out-prefix figures/convergence/{wildcards.method}_{wildcards.dataset} > {log} 2>&1"


rule dynamics_figure:
    input:
        lambda wildcards: full_model_runs(
            wildcards.method, wildcards.dataset, ".history.csv"
        ),
    output:
        png=report(
            "figures/dynamics/{method}_{dataset}.png",
            caption="../report/dynamics.rst",
            category="{method} paper",
            subcategory="Training dynamics",
            labels={"figure": "dynamics", "dataset": "{dataset}"},
        ),
        pdf="figures/dynamics/{method}_{dataset}.pdf",
    log:
        "logs/figures/dynamics/{method}_{dataset}.log",
    wildcard_constraints:
        method=DEEP_METHOD_PATTERN,
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        setting=lambda wildcards: method_setting_flags(wildcards.method),
    shell:
        "{params.cli} plot dynamics --method {wildcards.method}"
        " --dataset {wildcards.dataset} --histories {input} {params.setting}"
        " --out-prefix figures/dynamics/{wildcards.method}_{wildcards.dataset} > {log} 2>&1"


rule tsne:
    input:
        tsne_embeddings,
    output:
        "results/tsne/{method}_{dataset}.csv",
    log:
        "logs/tsne/{method}_{dataset}.log",
    wildcard_constraints:
        method=DEEP_METHOD_PATTERN,
    conda:
        "../envs/mmcbench.yaml"
    threads: 1
    params:
        cli=MMCBENCH,
        seed=config["figures"]["tsne_seed"],
        perplexity=config["figures"]["tsne_perplexity"],
        max_samples=config["figures"]["tsne_max_samples"],
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} tsne --embeddings {input}"
        " --seed {params.seed} --perplexity {params.perplexity}"
        " --max-samples {params.max_samples} --out {output} > {log} 2>&1"


rule tsne_figure:
    input:
        coordinates="results/tsne/{method}_{dataset}.csv",
        history=lambda wildcards: full_model_runs(
            wildcards.method,
            wildcards.dataset,
            ".history.csv",
            [config["figures"]["tsne_seed"]],
        ),
    output:
        png=report(
            "figures/tsne/{method}_{dataset}.png",
            caption="../report/tsne.rst",
            category="{method} paper",
            subcategory="t-SNE",
            labels={"figure": "t-SNE", "dataset": "{dataset}"},
        ),
        pdf="figures/tsne/{method}_{dataset}.pdf",
    log:
        "logs/figures/tsne/{method}_{dataset}.log",
    wildcard_constraints:
        method=DEEP_METHOD_PATTERN,
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        seed=config["figures"]["tsne_seed"],
    shell:
        "{params.cli} plot tsne --coordinates {input.coordinates} --history {input.history}"
        " --seed {params.seed}"
        " --method {wildcards.method} --dataset {wildcards.dataset}"
        " --out-prefix figures/tsne/{wildcards.method}_{wildcards.dataset} > {log} 2>&1"


rule paper_vs_reproduced:
    input:
        "results/comparison.csv",
    output:
        png=report(
            "figures/paper_vs_reproduced.png",
            caption="../report/paper_vs_reproduced.rst",
            category="Overview",
            labels={"figure": "published vs reproduced"},
        ),
        pdf="figures/paper_vs_reproduced.pdf",
    log:
        "logs/figures/paper_vs_reproduced.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
    shell:
        "{params.cli} plot paper-vs-reproduced --tables {input}"
        " --out-prefix figures/paper_vs_reproduced > {log} 2>&1"


rule resolution_figure:
    input:
        "results/resolutions.csv",
    output:
        png=report(
            "figures/resolutions.png",
            caption="../report/resolutions_figure.rst",
            category="Resolution study",
            labels={"figure": "Δ ACC per key and dataset"},
        ),
        pdf="figures/resolutions.pdf",
    log:
        "logs/figures/resolutions.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
    shell:
        "{params.cli} plot resolutions --resolutions {input} --metric ACC"
        " --out-prefix figures/resolutions > {log} 2>&1"
