# CSVs -> tables (Markdown, LaTeX, CSV).


rule table:
    input:
        "results/summary.csv",
    output:
        md=report(
            "results/tables/{table}.md",
            caption="../report/tables.rst",
            category=lambda wildcards: TABLE_PAPER[wildcards.table],
            subcategory="Tables",
            labels={"table": "{table}"},
        ),
        tex="results/tables/{table}.tex",
        csv="results/tables/{table}.csv",
    log:
        "logs/render/{table}.log",
    wildcard_constraints:
        table="table1|table2|clib_results|clib_ablation",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        settings=" ".join(
            f"--setting {method} {config[section]['alpha']} {config[section]['beta']}"
            for method, section in DEEP_METHODS.items()
        ),
    shell:
        "{params.cli} render {wildcards.table} --summary {input} {params.settings}"
        " --out-prefix results/tables/{wildcards.table} > {log} 2>&1"
