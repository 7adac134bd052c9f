# Deep runs (mmcbench.planning.catalogue: GIB, CLIB and their ablations, the compared methods),
# per dataset, variant, setting (`a{α}_b{β}` for methods whose path spells α and β, else
# `default`) and seed. A run writes three files: its record, history and embeddings
# (`run_files`, common.smk). Which runs the config asks for: mmcbench.planning.plan.
#
# A finished run is never retrained by accident: a run's files are update() outputs (Snakemake
# neither deletes them before the job nor keeps a failed job's half), and the job passes
# --keep-finished, so a run whose record already holds exactly this setting (hyper-parameters,
# data, scaling, precision, study point) is kept. Snakemake reruns a job when its params or
# command change, or a pack's other seeds are missing (seeds: 3 → 4 turns pack 2-2 into 2-3):
# the finished seed 2 is kept and only seed 3 trains. Retraining on purpose: delete the records.


rule train:
    input:
        "resources/hdf5/{dataset}.h5",
    output:
        update(run_files()),
    log:
        run_pattern(".log", root="logs/runs"),
    benchmark:
        run_pattern(".tsv", root="logs/benchmarks")
    wildcard_constraints:
        method=DEEP_METHOD_PATTERN,
        variant=DEEP_VARIANT_PATTERN,
        setting=run_paths.SETTING_PATTERN,
        seed=single_run_seed_pattern(),  # seeds of packs are trained by train_pack_* below
    group:
        "train"  # packs of runs per SLURM job (--group-components in the SLURM profiles)
    conda:
        "../envs/mmcbench.yaml"
    threads: lambda wildcards: deep_section(wildcards.method)["threads"]
    resources:
        mem_mb=8000,
        runtime=train_runtime,
    params:
        cli=MMCBENCH,
        hparams=hparams,
        embeddings=embeddings_at,
        device=run_device,
        point=point_flags,
        setting=setting_flags,
        setting_words=setting_words,
        scaling=scaling_flag(),
        precision=precision_flag(),
    message:
        "{wildcards.method} {wildcards.variant} on {wildcards.dataset}, {params.setting_words},"
        " seed {wildcards.seed} (one line per epoch in {log})"
    shell:
        "{params.cli} train --method {wildcards.method} --variant {wildcards.variant}"
        " --data {input} --seed {wildcards.seed} {params.setting}"
        " --hparams {params.hparams}"
        " --embeddings-at {params.embeddings} --device {params.device} --threads {threads}"
        " {params.scaling} {params.precision}"
        " {params.point} --keep-finished --out {output.record} > {log} 2>&1"
        " && tail -n 1 {log}"


# A resolution-study point: the same run with one hyper-parameter changed, named in its path.
use rule train as train_point with:
    output:
        update(run_files(point=True)),
    log:
        run_pattern(".log", point=True, root="logs/runs"),
    benchmark:
        run_pattern(".tsv", point=True, root="logs/benchmarks")
    wildcard_constraints:
        method=DEEP_METHOD_PATTERN,
        variant=DEEP_VARIANT_PATTERN,
        setting=run_paths.SETTING_PATTERN,
        key=run_paths.KEY_PATTERN,
        value=run_paths.VALUE_PATTERN,
        seed=single_run_seed_pattern(point=True),
    message:
        "{wildcards.method} {wildcards.variant} on {wildcards.dataset}, {params.setting_words},"
        " {wildcards.key} = {wildcards.value} (study point or reading), seed"
        " {wildcards.seed} (one line per epoch in {log})"


# Packs (train.pack_size > 1): the seeds of one setting trained together in one process as
# one stacked model (`mmcbench train-pack`), writing the very files `train` writes per run.
# One rule per seed range of `pack_chunks()`, for default-setting runs and study points.
for point in (False, True):
    for first, last in pack_chunks(point):
        seeds = range(first, last + 1)
        where = pack_folder(point)

        rule:
            name:
                f"train_pack_{'point_' if point else ''}{first}_{last}"
            input:
                "resources/hdf5/{dataset}.h5",
            output:
                records=pack_outputs(seeds, ".json", point),
                histories=pack_outputs(seeds, ".history.csv", point),
                embeddings=pack_outputs(seeds, ".embeddings.npz", point),
            log:
                f"logs/runs/{where}/pack{first}-{last}.log",
            benchmark:
                f"logs/benchmarks/{where}/pack{first}-{last}.tsv"
            wildcard_constraints:
                method=DEEP_METHOD_PATTERN,
                variant=DEEP_VARIANT_PATTERN,
                setting=run_paths.SETTING_PATTERN,
                key=run_paths.KEY_PATTERN,
                value=run_paths.VALUE_PATTERN,
            group:
                "pack"  # one SLURM job per pack (no group-components for "pack")
            conda:
                "../envs/mmcbench.yaml"
            threads: lambda wildcards: deep_section(wildcards.method)["threads"]
            resources:
                mem_mb=8000,
                runtime=pack_runtime(len(seeds)),
                # Asked by the rule itself: profiles' set-resources name rules, and pack rules
                # are named per seed range.
                gpu=pack_gpus,
            params:
                cli=MMCBENCH,
                seeds=" ".join(str(seed) for seed in seeds),
                hparams=hparams,
                embeddings=embeddings_at,
                device=run_device,
                point=point_flags,
                setting=setting_flags,
                setting_words=setting_words,
                scaling=scaling_flag(),
                precision=precision_flag(),
            message:
                f"{{wildcards.method}} {{wildcards.variant}} on {{wildcards.dataset}}, "
                f"{{params.setting_words}}, seeds {first}-{last} as one "
                "pack (one line per epoch in {log})"
            shell:
                "{params.cli} train-pack --method {wildcards.method}"
                " --variant {wildcards.variant} --data {input} --seeds {params.seeds}"
                " {params.setting} --hparams {params.hparams}"
                " --embeddings-at {params.embeddings} --device {params.device}"
                " --threads {threads} {params.scaling} {params.precision} {params.point}"
                " --keep-finished --out {output.records} > {log} 2>&1 && tail -n 1 {log}"
