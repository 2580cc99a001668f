# Training: one job per shared warm-up (task x seed x warm-up settings), then one job
# per run (task x variant x settings x seed), each on one core, started from its warm-up.
#
# The trainer keeps DIR/checkpoint.pt to resume after a kill; it is deliberately not
# an output: Snakemake deletes the outputs of an incomplete job before rerunning it
# (--rerun-incomplete), and the checkpoint must survive that. final.json (warmup.json
# for a warm-up) is written last by the trainer, so it marks a finished job.
#
# Included only with `train: true` (the default); see the Snakefile.


rule warmup:
    output:
        marker=f"{WARMUPS_DIR}/{{task}}/{{signature}}/seed{{seed}}/warmup.json",
        metrics=f"{WARMUPS_DIR}/{{task}}/{{signature}}/seed{{seed}}/metrics.csv",
        run_config=f"{WARMUPS_DIR}/{{task}}/{{signature}}/seed{{seed}}/config.yaml",
    log:
        f"{LOGS_DIR}/warmup/{{task}}/{{signature}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS_DIR}/warmup/{{task}}/{{signature}}/seed{{seed}}.tsv"
    params:
        trainer=config["trainer"]["command"],
        # The warm-up is trained with the settings of one of the runs it serves: all give
        # the same first phase (equal signatures), and the trainer checks it again.
        command=lambda wildcards, output: plan.trainer_command(
            plan.warmup(config, os.path.dirname(output.marker)), config
        ),
        out_dir=lambda wildcards, output: os.path.dirname(output.marker),
    threads: 1
    resources:
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=lambda wildcards: plan.train_runtime_min(config, wildcards.task),
    shell:
        "{params.trainer} {params.command} --out {params.out_dir} --warmup-only > {log} 2>&1"


# A run whose warm-up is done goes ahead of warm-ups still to train: finished runs land as the
# grid goes, and a grid stopped part-way leaves them whole rather than a stock of bare warm-ups.
rule train:
    priority: 1
    input:
        warmup=lambda wildcards: os.path.join(run_of(wildcards).warmup_dir, "warmup.json"),
    output:
        final=f"{RUNS_DIR}/{{task}}/{{variant}}/{{settings}}/seed{{seed}}/final.json",
        metrics=f"{RUNS_DIR}/{{task}}/{{variant}}/{{settings}}/seed{{seed}}/metrics.csv",
        eval_episode=f"{RUNS_DIR}/{{task}}/{{variant}}/{{settings}}/seed{{seed}}/eval_episode.csv",
        run_config=f"{RUNS_DIR}/{{task}}/{{variant}}/{{settings}}/seed{{seed}}/config.yaml",
    log:
        f"{LOGS_DIR}/train/{{task}}/{{variant}}/{{settings}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS_DIR}/train/{{task}}/{{variant}}/{{settings}}/seed{{seed}}.tsv"
    params:
        trainer=config["trainer"]["command"],
        command=lambda wildcards: plan.trainer_command(run_of(wildcards), config),
        out_dir=lambda wildcards, output: os.path.dirname(output.final),
        warmup_dir=lambda wildcards, input: os.path.dirname(input.warmup),
    threads: 1
    resources:
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=lambda wildcards: plan.train_runtime_min(config, wildcards.task),
    shell:
        "{params.trainer} {params.command} --out {params.out_dir} --from-warmup {params.warmup_dir} > {log} 2>&1"
