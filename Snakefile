# MoE router ablation benchmark: train the grid task x variant x seed, then tables
# and figures with confidence intervals across seeds.
#
#   snakemake --cores 8                                            # paper grid
#   snakemake --cores 2 --configfile workflow/config/quick.yaml    # small smoke grid
#   snakemake --report report.html                                 # one-page report
#   snakemake --cores 2 --config train=False                       # tables and figures from existing runs only
#   snakemake tables --cores 2                                     # the tables alone, no figures
#
# workflow/README.md explains the layout, failed runs, sweeps and how to extend it.

from snakemake.utils import min_version

min_version("9.0")


configfile: "workflow/config/config.yaml"


report: "workflow/report/workflow.rst"


# Task ids contain dashes and dots, variants contain '+': only '/' separates fields.
wildcard_constraints:
    task=r"[^/]+",
    variant=r"[^/]+",
    settings=r"[^/]+",
    signature=r"[0-9a-f]+",
    seed=r"\d+",
    sweep=r"[^/]+",


include: "workflow/rules/common.smk"


# `train: false` rebuilds the tables and figures from the runs under runs_dir as they
# are (e.g. committed reference results): with no rule to make a run, Snakemake can
# only use the run files that exist, and it never plans a training job.
if config["train"]:

    include: "workflow/rules/train.smk"


include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/sweep.smk"
include: "workflow/rules/reference.smk"


# The main study's tables and figures: each rule marks its own with final_output()
# (common.smk), so a new rule joins `all` where it is written.
# Each target also asks for its runs (an input function, so only a target asked for names
# them): Snakemake does not remake a missing input of an output it finds up to date. With
# its records (.snakemake/) it sees that a table's set of inputs changed; without them
# (tables copied in, a fresh checkout), tables made from part of the grid
# (allow_missing_runs) would keep a later plain call from training the rest.
rule all:
    default_target: True
    localrule: True
    input:
        get_final_output(),
        GRID_RUN_FILES["finals"],


# The study's tables without its figures: the numbers, in a fraction of the time.
rule tables:
    localrule: True
    input:
        [path for path in get_final_output() if path.startswith(table(""))],
        GRID_RUN_FILES["finals"],
