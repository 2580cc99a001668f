# One training job per grid cell (task x variant x seed), one core each.
#
# The trainer keeps DIR/checkpoint.pt to resume after a kill; it is deliberately not
# an output: Snakemake deletes the outputs of an incomplete job before rerunning it
# (--rerun-incomplete), and the checkpoint must survive that.
# final.json is written last by the trainer, so it marks a finished run.


rule train:
    output:
        final="results/runs/{task}/{variant}/seed{seed}/final.json",
        metrics="results/runs/{task}/{variant}/seed{seed}/metrics.csv",
        eval_episode="results/runs/{task}/{variant}/seed{seed}/eval_episode.csv",
        run_config="results/runs/{task}/{variant}/seed{seed}/config.yaml",
    log:
        "results/runs/{task}/{variant}/seed{seed}/train.log",
    benchmark:
        "results/runs/{task}/{variant}/seed{seed}/train.benchmark.tsv"
    params:
        trainer=config["trainer"]["command"],
        trainer_config=grid.trainer_config_arg(config),
        task=lambda wildcards: wildcards.task,
        variant=lambda wildcards: wildcards.variant,
        seed=lambda wildcards: wildcards.seed,
        frames=lambda wildcards: grid.task_entry(config, wildcards.task)["frames"],
        out_dir=lambda wildcards, output: os.path.dirname(output.final),
        overrides=lambda wildcards: grid.trainer_overrides(config, wildcards.task),
    threads: 1
    resources:
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=lambda wildcards: grid.train_runtime_min(config, wildcards.task),
    conda:
        "../envs/moe.yaml"
    shell:
        "{params.trainer} --env {params.task} --variant {params.variant}"
        " --seed {params.seed} --frames {params.frames} --out {params.out_dir}"
        " {params.trainer_config} {params.overrides} > {log} 2>&1"
