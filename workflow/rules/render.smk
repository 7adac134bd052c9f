# CSVs -> tables (Markdown, LaTeX, CSV).


rule table1_baselines:
    input:
        "results/summary.csv",
    output:
        md=report(
            "results/tables/table1_baselines.md",
            caption="../report/table1_baselines.rst",
            category="Tables",
            subcategory="Table 1 (baselines)",
        ),
        tex="results/tables/table1_baselines.tex",
        csv="results/tables/table1_baselines.csv",
    log:
        "logs/render/table1_baselines.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
    shell:
        "{params.cli} render table1 --summary {input} --out-prefix results/tables/table1_baselines"
        " > {log} 2>&1"
