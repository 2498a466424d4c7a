#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, from Debian's packages (slurm-wlm, munge), for the tests
# (tests/sweeps/conftest.py) and for trying the SLURM launcher by hand (`make slurm`).
#
#   scripts/slurm_cluster.sh start <dir>   write <dir>/slurm.conf, start munged, slurmctld and slurmd, wait
#                                          until the node takes jobs; then `export SLURM_CONF=<dir>/slurm.conf`
#   scripts/slurm_cluster.sh stop <dir>    stop the daemons and every job process the cluster started
#
# Everything (config, munge key and socket, state, spool, logs, pid files) lives in <dir>, and the daemons
# listen on free ports, so the cluster never touches /etc/slurm or a cluster already on this machine. Needs
# root (slurmd runs jobs as their owner). Exit status 2: this machine cannot run it (the message says why).
set -euo pipefail

usage() { echo "usage: $0 start|stop <dir>" >&2; exit 64; }
[[ $# -eq 2 ]] || usage
action=$1
dir=$(realpath -m "$2")

# A free TCP port of 127.0.0.1 between $1 and $1 + 999 (nothing answers a connection to it).
free_port() {
    local port
    for port in $(shuf -i "$1-$(($1 + 999))"); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "no free port between $1 and $(($1 + 999))" >&2
    exit 1
}

write_config() {
    local node mem_mb
    node=$(hostname -s)
    mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
    cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm_cluster.sh: one node (this host), one partition, no accounting.
ClusterName=mnist1d
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port 26000)
SlurmdPort=$(free_port 27000)
SlurmUser=root
SlurmdUser=root
# Munge through this cluster's own daemon; a requeued job waits cred_expire seconds (default 120) before it
# may start again.
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# Plain processes: no cgroups, no CPU binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# CPUs are the consumable resource (memory is not: a job that asks for none does not hold the whole node).
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
# No slurmdbd: sacct has nothing to read (the sweep driver polls squeue instead).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Seconds between a job's SIGTERM and its SIGKILL (time limit, scancel, requeue, preemption).
KillWait=10
# A node whose slurmd comes back registers as usable again without an administrator.
ReturnToService=2
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

# munged, slurmctld and slurmd; succeeds once the node takes jobs (slurmd registered: state idle).
start_daemons() {
    local node waited=0
    node=$(hostname -s)
    # --force: munged refuses a socket below a world-writable directory such as /tmp (sticky bit or not).
    munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" || return 1
    slurmctld -f "$SLURM_CONF" || return 1
    slurmd -f "$SLURM_CONF" || return 1
    until [[ $(sinfo --noheader --nodes="$node" --format=%t 2>/dev/null) == idle ]]; do
        ((waited++ < 60)) || return 1
        sleep 1
    done
}

start() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "a SLURM cluster needs root (slurmd starts jobs as their user)" >&2
        exit 2
    fi
    local missing=() program
    for program in munged slurmctld slurmd sbatch squeue scontrol srun; do
        command -v "$program" >/dev/null || missing+=("$program")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "missing ${missing[*]}: install Debian's packages with apt-get install slurm-wlm munge" >&2
        exit 2
    fi
    if [[ -e $dir/slurm.conf ]]; then  # a cluster left behind by a killed run: stop it, forget its jobs
        stop
        rm -rf "${dir:?}"/{munge,state,spool,log}
    fi
    mkdir -p "$dir"/{munge,state,spool,log}
    chmod 700 "$dir" "$dir/munge"  # munged refuses a socket or key that others can reach
    write_config
    export SLURM_CONF=$dir/slurm.conf
    head -c 1024 /dev/urandom >"$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    if ! start_daemons; then
        echo "the SLURM cluster did not come up; logs in $dir/log and $dir/munge" >&2
        tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
        stop
        exit 1
    fi
    echo "SLURM cluster up: export SLURM_CONF=$SLURM_CONF (stop it with $0 stop $dir)"
}

# This cluster's processes: its daemons and slurmstepd (found by the SLURM_CONF in their environment, which
# slurmd passes on to slurmstepd) and every process below them (the jobs' shells, srun, python).
cluster_pids() {
    local marker="SLURM_CONF=$dir/slurm.conf" roots=() pid
    while read -r pid; do
        if grep -qxzF "$marker" "/proc/$pid/environ" 2>/dev/null; then
            roots+=("$pid")
        fi
    done < <(ps -e -o pid=,comm= | awk '$2 ~ /^(munged|slurmctld|slurmd|slurmstepd)$/ {print $1}')
    [[ ${#roots[@]} -gt 0 ]] || return 0
    ps -e -o pid=,ppid= | awk -v roots="${roots[*]}" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1 }
        { parent[$1] = $2 }
        END { for (p in parent) { q = p; while (q > 1 && !(q in root)) q = parent[q]; if (q in root) print p } }'
}

# Whether process $1 still runs (a zombie waiting for init to reap it does not).
running() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }  # the fields after "pid (command)": the state comes first
    [[ ${stat:0:1} != Z ]]
}

stop() {
    local pids=() pidfile pid name left
    for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
        name=$(basename "$pidfile" .pid)
        # a pid file left by a dead daemon may name an unrelated process by now
        if [[ -s $pidfile && $(ps -o comm= -p "$(cat "$pidfile")" 2>/dev/null) == "$name" ]]; then
            pids+=("$(cat "$pidfile")")
        fi
    done
    mapfile -t -O "${#pids[@]}" pids < <(cluster_pids)
    # The jobs go at once (SIGKILL: the cluster and its files are thrown away), the daemons with SIGTERM.
    for pid in "${pids[@]}"; do
        case $(ps -o comm= -p "$pid" 2>/dev/null) in
            munged | slurmctld | slurmd) kill "$pid" 2>/dev/null || true ;;
            *) kill -KILL "$pid" 2>/dev/null || true ;;
        esac
    done
    for _ in $(seq 30); do  # up to 3 s for the daemons to exit, then SIGKILL to whatever is left
        left=0
        for pid in "${pids[@]}"; do
            if running "$pid"; then left=1; fi
        done
        [[ $left -eq 0 ]] && break
        sleep 0.1
    done
    for pid in "${pids[@]}" $(cluster_pids); do
        if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
    rm -f "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"
}

case $action in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
