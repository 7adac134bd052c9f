# CSVs -> tables (Markdown, LaTeX, CSV).


rule table:
    input:
        "results/summary.csv",
    output:
        md=report(
            "results/tables/{table}.md",
            caption="../report/tables.rst",
            category="Tables",
            subcategory="{table}",
        ),
        tex="results/tables/{table}.tex",
        csv="results/tables/{table}.csv",
    log:
        "logs/render/{table}.log",
    wildcard_constraints:
        table="table1|table2",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        alpha=config["gib"]["alpha"],
        beta=config["gib"]["beta"],
    shell:
        "{params.cli} render {wildcards.table} --summary {input}"
        " --alpha {params.alpha} --beta {params.beta}"
        " --out-prefix results/tables/{wildcards.table} > {log} 2>&1"
