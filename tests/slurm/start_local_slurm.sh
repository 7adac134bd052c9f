#!/usr/bin/env bash
# Start a single-node SLURM (slurmctld + slurmd on localhost) for the SLURM test.
# The node declares one GPU slot without a device behind it (gres.conf File=/dev/null), so
# that jobs asking --gpus=1 are scheduled as on a GPU node; the smoke config trains on CPU.
# Needs root. Installs Debian's slurm-wlm and munge when they are missing. Idempotent: a
# cluster that already answers `sinfo` is left as it is. Exit status 0 = a node is idle.
set -euo pipefail

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || { echo "no slurmctld/munged and no apt-get" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    # The package lists already here first (no download of them); fresh lists only if the
    # install fails with those (none yet, or versions the mirror no longer has).
    install=(apt-get install -y -qq --no-install-recommends slurm-wlm munge)
    if ! "${install[@]}" >/dev/null 2>&1; then
        apt-get update -qq >/dev/null
        "${install[@]}" >/dev/null
    fi
fi

if sinfo -h -o %T 2>/dev/null | grep -q -E "idle|mix|alloc"; then
    echo "local SLURM already up"; exit 0
fi

# munge: fresh key, daemon as the munge user.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged --force

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
install -d /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=mmcbench-local
GresTypes=gpu
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
ReturnToService=2
SchedulerType=sched/backfill
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} Gres=gpu:1 State=UNKNOWN
PartitionName=local Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
printf 'AutoDetect=off\nName=gpu File=/dev/null\n' > /etc/slurm/gres.conf

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 30); do
    if sinfo -h -o %T 2>/dev/null | grep -q -E "idle|mix|alloc"; then
        echo "local SLURM up: node ${host}, ${cpus} CPUs, ${mem_mb} MB"; exit 0
    fi
    sleep 1
done
echo "slurmd did not become idle; sinfo says: $(sinfo -h 2>&1)" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
