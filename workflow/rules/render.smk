# CSVs -> tables (Markdown, LaTeX, CSV). The paper tables and the claims read
# results/comparison.csv only (its rows carry the (α, β) they show).


rule table:
    input:
        "results/comparison.csv",
    output:
        md="results/tables/{table}.md",
        html=report(
            "results/tables/{table}.html",
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
        level=config["claims"]["level"],
    shell:
        "{params.cli} render {wildcards.table} --comparison {input}"
        " --level {params.level} --out-prefix results/tables/{wildcards.table} > {log} 2>&1"


rule resolution_table:
    input:
        "results/resolutions.csv",
    output:
        md="results/tables/resolutions.md",
        html=report(
            "results/tables/resolutions.html",
            caption="../report/resolutions_table.rst",
            category="Resolution study",
            labels={"table": "resolutions"},
        ),
        tex="results/tables/resolutions.tex",
        csv="results/tables/resolutions.csv",
    log:
        "logs/render/resolutions.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
    shell:
        "{params.cli} render resolutions --summary {input}"
        " --out-prefix results/tables/resolutions > {log} 2>&1"


rule claims:
    input:
        "results/comparison.csv",
    output:
        csv="results/claims.csv",
        html=report(
            "results/claims.html",
            caption="../report/claims.rst",
            category="Overview",
            labels={"table": "claims"},
        ),
    log:
        "logs/render/claims.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        level=config["claims"]["level"],
    shell:
        "{params.cli} claims --comparison {input} --level {params.level} --out {output.csv}"
        " > {log} 2>&1"


rule published_audit:
    output:
        csv="results/published_audit.csv",
        md="results/published_audit.md",
        html=report(
            "results/published_audit.html",
            caption="../report/published_audit.rst",
            category="Overview",
            labels={"table": "published audit"},
        ),
    log:
        "logs/render/published_audit.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
    shell:
        "{params.cli} published-audit --out {output.csv} > {log} 2>&1"


rule paper_checks:
    input:
        runs="results/runs.csv",
        grid=paper_checks_grid(),
        histories=paper_checks_histories(),
    output:
        csv="results/paper_checks.csv",
        md="results/paper_checks.md",
        html=report(
            "results/paper_checks.html",
            caption="../report/paper_checks.rst",
            category="Overview",
            labels={"table": "paper checks"},
        ),
    log:
        "logs/render/paper_checks.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        grid=lambda wildcards, input: f"--grid {input.grid}" if input.grid else "",
        max_spread=config["paper_checks"]["max_spread"],
    shell:
        "{params.cli} paper-checks --runs {input.runs} {params.grid}"
        " --max-spread {params.max_spread} --out {output.csv} > {log} 2>&1"
