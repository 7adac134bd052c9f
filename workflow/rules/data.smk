# Raw files (checksum-verified: mirror, installed package or download) -> HDF5.


rule fetch:
    input:
        manual_files,
    output:
        "resources/raw/{group}/manifest.json",
    log:
        "logs/fetch/{group}.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
        flags=fetch_flags(),
    shell:
        "{params.cli} fetch --group {wildcards.group} --raw-dir resources/raw {params.flags}"
        " 2>&1 | tee {log}"


rule convert:
    input:
        raw_manifest,
    output:
        "resources/hdf5/{dataset}.h5",
    log:
        "logs/convert/{dataset}.log",
    localrule: True
    conda:
        "../envs/mmcbench.yaml"
    params:
        cli=MMCBENCH,
    shell:
        "{params.cli} convert {wildcards.dataset} --manifest {input} --out {output}"
        " 2>&1 | tee {log}"
