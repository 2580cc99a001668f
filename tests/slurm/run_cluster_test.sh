#!/usr/bin/env bash
# A real SLURM test of the workflow, not a mock: a one-node SLURM cluster on this
# machine, the workflow submitted to it through snakemake-executor-plugin-slurm with
# the project's profile (workflow/profiles/slurm), and its tables compared with a
# local run of the same grid and seeds.
#
#   tests/slurm/run_cluster_test.sh          # as root on Debian (12); ~3-4 minutes
#   KEEP=1 tests/slurm/run_cluster_test.sh   # keep the scratch directory afterwards
#
# Steps:
#   1. install (skipped when present): Debian's slurmctld slurmd slurm-client munge,
#      and the Snakemake SLURM executor plugin (pip, keeping the installed torch);
#   2. write a one-node slurm.conf for localhost (proctrack/linuxproc, task/none,
#      select/cons_tres, CPUs and memory from `slurmd -C`, MinJobAge=600, a job
#      completion log as the job history; no slurmdbd, so the plugin checks job
#      status with `squeue`);
#   3. start munged (as the munge user, unless one runs already), slurmctld, slurmd;
#   4. run the grid (workflow/config/quick.yaml + tests/slurm/cluster_grid.yaml: the
#      quick grid cut to 2 warm-ups and 4 training jobs) with --workflow-profile
#      workflow/profiles/slurm in a scratch copy of the repository, and scancel one
#      training job after its first checkpoint;
#   5. run the same grid locally (--cores 2) in a second scratch copy;
#   6. check: every warm-up and training job ran as a SLURM job (job id in Snakemake's
#      log, a SLURM log file per job, COMPLETED in SLURM's job history) and every
#      other job on the submitting node; the cancelled job was CANCELLED,
#      resubmitted, resumed from its own checkpoint, and the grid completed; the
#      tables of both runs are identical;
#   7. stop the daemons it started, by their PID files (also on failure).
#
# Exits 0 when every check passes, 1 when one fails; prints "SKIP: <reason>" and
# exits 0 when not root on Debian.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
GRID_CONFIGS=(workflow/config/quick.yaml tests/slurm/cluster_grid.yaml)
VICTIM_TASK=MultiIntent-KeyDoor-6x6-v0   # the run to scancel mid-run (updates 4-6, after a 3-update warm-up)
VICTIM_VARIANT=temporal
VICTIM_SEED=1
SNAKEMAKE_TIMEOUT=${SNAKEMAKE_TIMEOUT:-900}
T0=$(date +%s)

say() { printf '[slurm-test %4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

# --- 0. preconditions ------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: the SLURM cluster test must run as root (it installs packages and starts daemons)"
    exit 0
fi
if [[ ! -f /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
    echo "SKIP: the SLURM cluster test needs Debian (apt-get, Debian's SLURM packages)"
    exit 0
fi
for daemon in slurmctld slurmd; do
    if pgrep -x "$daemon" >/dev/null; then
        fail "a $daemon is already running on this machine (pid $(pgrep -x "$daemon" | tr '\n' ' ')); this test starts its own cluster and leaves others alone"
    fi
done

# --- 1. install ----------------------------------------------------------------------
PACKAGES=(slurmctld slurmd slurm-client munge)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "Debian packages present: ${PACKAGES[*]}"
fi
if ! python -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    torch_version=$(python -c "import torch; print(torch.__version__.split('+')[0])")
    say "installing snakemake-executor-plugin-slurm (pip; keeping torch==$torch_version)"
    pip install -q "torch==$torch_version" 'snakemake-executor-plugin-slurm>=2.8,<3'
fi

# --- 2. scratch directory and slurm.conf ---------------------------------------------
WORK=$(mktemp -d /tmp/moe-slurm-test.XXXXXX)
mkdir -p "$WORK/state" "$WORK/spool"
# slurm.conf goes where SLURM looks by default: the plugin's job step drops SLURM_CONF
# (and every other SLURM_* variable) before its nested srun. An existing file is put
# back afterwards.
export SLURM_CONF=/etc/slurm/slurm.conf
CONF_BACKUP=
STARTED_PIDFILES=()   # PID files of the daemons this script started, in start order

stop_daemons() {
    local status=$?
    set +e
    if [[ -n "${WATCHER_PID:-}" ]]; then kill "$WATCHER_PID" 2>/dev/null; fi
    if [[ -s "$WORK/slurmctld.pid" ]]; then   # any job left in this private cluster
        squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null
    fi
    # reverse start order: slurmd, slurmctld, munged
    for ((i = ${#STARTED_PIDFILES[@]} - 1; i >= 0; i--)); do
        local pidfile=${STARTED_PIDFILES[i]} pid
        pid=$(cat "$pidfile" 2>/dev/null) || continue
        [[ -n "$pid" ]] || continue
        say "stopping $(ps -o comm= -p "$pid" 2>/dev/null || echo '(gone)') (pid $pid from $pidfile)"
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    done
    # Job processes that outlived the cluster (a cancelled job's Snakemake can): those
    # running from this test's scratch directory, by PID.
    local leftover
    leftover=$(grep -lsF "$WORK/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true)
    for pid in $leftover; do
        local cmd
        cmd=$( { tr '\0' ' ' </proc/"$pid"/cmdline; } 2>/dev/null) || continue
        [[ "$cmd" == *"$WORK/"* && "$cmd" != *grep* ]] || continue
        say "killing leftover job process $pid: ${cmd:0:100}"
        kill -9 "$pid" 2>/dev/null
    done
    if [[ -n "$CONF_BACKUP" ]]; then
        cp -p "$CONF_BACKUP" "$SLURM_CONF" && say "restored the previous $SLURM_CONF"
    elif [[ -f "$SLURM_CONF" ]] && grep -q "^# One-node cluster for tests/slurm/run_cluster_test.sh" "$SLURM_CONF"; then
        cp "$SLURM_CONF" "$WORK/slurm.conf" && rm -f "$SLURM_CONF"
    fi
    if ((status != 0)); then
        say "logs kept in $WORK (slurmctld.log, slurmd.log, snakemake-*.log, runs)"
    elif [[ -z "${KEEP:-}" ]]; then
        rm -rf "$WORK"
    else
        say "scratch directory kept: $WORK"
    fi
    say "$( ((status == 0)) && echo "PASSED: all checks" || echo "FAILED (exit $status)")"
    exit "$status"
}
trap stop_daemons EXIT
trap 'exit 130' INT TERM

read -r NODE_NAME CPUS MEMORY < <(slurmd -C | head -1 | tr ' ' '\n' | awk -F= '
    $1 == "NodeName" {n = $2} $1 == "CPUs" {c = $2} $1 == "RealMemory" {m = $2}
    END {print n, c, m}')
[[ -n "$NODE_NAME" && -n "$CPUS" && -n "$MEMORY" ]] || fail "cannot parse 'slurmd -C': $(slurmd -C)"
mkdir -p "$(dirname "$SLURM_CONF")"
if [[ -f "$SLURM_CONF" ]] && ! grep -q "^# One-node cluster for tests/slurm/run_cluster_test.sh" "$SLURM_CONF"; then
    CONF_BACKUP="$WORK/slurm.conf.before-test"
    cp -p "$SLURM_CONF" "$CONF_BACKUP"
    say "$SLURM_CONF exists: saved to $CONF_BACKUP, restored at the end"
fi
cat >"$SLURM_CONF" <<EOF
# One-node cluster for tests/slurm/run_cluster_test.sh (generated).
ClusterName=moetest
SlurmctldHost=$NODE_NAME(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
# no systemd, no cgroups
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
# No slurmdbd: the plugin checks status with squeue, which needs finished jobs kept
# for at least 3 x --slurm-init-seconds-before-status-checks.
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Job history without a database: one line per finished job.
JobCompType=jobcomp/filetxt
JobCompLoc=$WORK/jobcomp.txt
SchedulerParameters=sched_interval=2
NodeName=$NODE_NAME NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=$NODE_NAME Default=YES MaxTime=INFINITE State=UP
EOF
say "slurm.conf: node $NODE_NAME, $CPUS CPUs, $MEMORY MB ($SLURM_CONF)"

# --- 3. daemons ------------------------------------------------------------------------
MUNGE_PIDFILE=/run/munge/munged.pid
if [[ -S /run/munge/munge.socket.2 ]] && munge -n </dev/null | unmunge >/dev/null 2>&1; then
    say "munged already running: using it (not stopping it afterwards)"
else
    if [[ ! -s /etc/munge/munge.key ]]; then
        say "creating /etc/munge/munge.key"
        runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    fi
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PIDFILE"
    STARTED_PIDFILES+=("$MUNGE_PIDFILE")
    for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
    munge -n </dev/null | unmunge >/dev/null 2>&1 || fail "munged does not answer"
    say "munged started (pid $(cat "$MUNGE_PIDFILE"))"
fi
/usr/sbin/slurmctld -f "$SLURM_CONF"
STARTED_PIDFILES+=("$WORK/slurmctld.pid")
/usr/sbin/slurmd -f "$SLURM_CONF"
STARTED_PIDFILES+=("$WORK/slurmd.pid")
for _ in $(seq 120); do
    state=$(sinfo -h -n "$NODE_NAME" -o %T 2>/dev/null || true)
    [[ "$state" == idle ]] && break
    sleep 0.5
done
[[ "$state" == idle ]] || fail "node $NODE_NAME is '${state:-unknown}', not idle; see $WORK/slurmctld.log"
say "slurmctld (pid $(cat "$WORK/slurmctld.pid")) and slurmd (pid $(cat "$WORK/slurmd.pid")) up; node idle"
say "$(sinfo --version), snakemake $(snakemake --version)," \
    "snakemake-executor-plugin-slurm $(python -c 'from importlib.metadata import version; print(version("snakemake-executor-plugin-slurm"))')"
sbatch_out=$(sbatch --parsable --wait -o "$WORK/hello.out" --wrap 'env -u SLURM_CONF srun -n1 echo hello from $SLURM_JOB_ID') ||
    fail "a trivial sbatch job (with a job step) failed: $(cat "$WORK/hello.out")"
grep -q "hello from $sbatch_out" "$WORK/hello.out" || fail "trivial job $sbatch_out wrote no output"
say "trivial sbatch job $sbatch_out ran (with an srun step)"

# --- 4. the grid on SLURM -----------------------------------------------------------------
copy_repo() {  # the working tree (tracked and untracked-but-not-ignored files), no results
    mkdir -p "$1"
    (cd "$REPO" && git ls-files -z -co --exclude-standard |
        python -c 'import os, sys; sys.stdout.write("".join(p + "\0" for p in sys.stdin.read().split("\0") if p and os.path.isfile(p) and not p.startswith("results/runs/")))' |
        tar --null -T - -cf -) | tar -xf - -C "$1"
}
copy_repo "$WORK/slurm-run"
copy_repo "$WORK/local-run"

# A grid run: {runs_dir}/{task}/{variant}/base/seed{seed}; its job's wildcards joined by '_'.
victim_wc="${VICTIM_TASK}_${VICTIM_VARIANT}_base_${VICTIM_SEED}"
victim_dir="$WORK/slurm-run/results/runs/$VICTIM_TASK/$VICTIM_VARIANT/base/seed$VICTIM_SEED"
# Watcher: once the victim's first checkpoint exists (mid-run; it starts from its
# warm-up's checkpoint, which stays in the warm-up's directory), scancel its SLURM job.
(
    for _ in $(seq 3000); do
        if [[ -f "$victim_dir/checkpoint.pt" && ! -f "$victim_dir/final.json" ]]; then
            jobid=$(squeue -h -t RUNNING -o '%i %k' | awk -v c="rule_train_wildcards_$victim_wc" '$2 == c {print $1}' | head -1)
            if [[ -n "$jobid" ]]; then
                scancel "$jobid"
                echo "$jobid" >"$WORK/cancelled_jobid"
                say "scancel $jobid: training job $VICTIM_TASK/$VICTIM_VARIANT/seed$VICTIM_SEED after its first checkpoint"
                exit 0
            fi
        fi
        sleep 0.2
    done
) &
WATCHER_PID=$!

say "running the grid on SLURM: snakemake --workflow-profile workflow/profiles/slurm (log: $WORK/snakemake-slurm.log)"
t_slurm=$(date +%s)
(
    cd "$WORK/slurm-run"
    PYTHONPATH="$WORK/slurm-run${PYTHONPATH:+:$PYTHONPATH}" timeout "$SNAKEMAKE_TIMEOUT" \
        snakemake --workflow-profile workflow/profiles/slurm \
        --configfile "${GRID_CONFIGS[@]}" \
        --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5 \
        --slurm-no-account --slurm-keep-successful-logs --latency-wait 10
) >"$WORK/snakemake-slurm.log" 2>&1 || {
    rc=$?
    tail -25 "$WORK/snakemake-slurm.log"
    say "errors in the failed jobs' logs:"
    grep -ril "error" "$WORK/slurm-run/results/logs" --include='*.log' | while read -r log; do
        echo "  ${log#"$WORK/slurm-run/"}: $(grep -i "error" "$log" | tail -1)"
    done
    fail "the SLURM run failed (exit $rc); log $WORK/snakemake-slurm.log"
}
say "SLURM run finished in $(($(date +%s) - t_slurm)) s"
# SLURM's own record (MinJobAge=600 keeps finished jobs visible): id, state, comment
# (the plugin's comment names the rule and wildcards of each job).
squeue -h -t all -o '%i|%T|%k' >"$WORK/squeue_history.txt"
wait "$WATCHER_PID" 2>/dev/null || true
WATCHER_PID=

# --- 5. the same grid locally ------------------------------------------------------------
# Its tables only: they are what the checks compare, and figures cost minutes.
say "running the same grid locally: snakemake tables --cores 2 (log: $WORK/snakemake-local.log)"
t_local=$(date +%s)
(
    cd "$WORK/local-run"
    PYTHONPATH="$WORK/local-run${PYTHONPATH:+:$PYTHONPATH}" timeout "$SNAKEMAKE_TIMEOUT" \
        snakemake tables --cores 2 --configfile "${GRID_CONFIGS[@]}"
) >"$WORK/snakemake-local.log" 2>&1 || {
    rc=$?
    tail -40 "$WORK/snakemake-local.log"
    fail "the local run failed (exit $rc); log $WORK/snakemake-local.log"
}
say "local run finished in $(($(date +%s) - t_local)) s"

# --- 6. checks -------------------------------------------------------------------------------
say "checking"
python "$REPO/tests/slurm/check_cluster_run.py" \
    --slurm-run "$WORK/slurm-run" --local-run "$WORK/local-run" \
    --snakemake-log "$WORK/snakemake-slurm.log" --jobcomp "$WORK/jobcomp.txt" \
    --squeue-history "$WORK/squeue_history.txt" \
    --cancelled-jobid-file "$WORK/cancelled_jobid" \
    --victim "$VICTIM_TASK/$VICTIM_VARIANT/$VICTIM_SEED" \
    --configfiles "${GRID_CONFIGS[@]/#/$REPO/}" || fail "checks failed"
say "end to end: $(($(date +%s) - T0)) s"
