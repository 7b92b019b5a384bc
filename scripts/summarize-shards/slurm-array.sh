#!/usr/bin/env bash
# Summarize a corpus over a Slurm job array: each array task runs one shard, i/N with i = SLURM_ARRAY_TASK_ID.
#   sbatch --array=0-7 scripts/summarize-shards/slurm-array.sh data/corpus/ out/summaries
# Every task must see the same inputs under the same path (relative to the job's working directory): the shares
# are computed from the sorted document ids, and an id is the path as given. A task that is killed or preempted
# resumes where it stopped when resubmitted (`sbatch --array=3 ...`): dera summarize skips finished documents.
# Merge when all tasks are done:  scripts/summarize-shards/merge.sh out/summaries > summaries.jsonl
#SBATCH --job-name=dera-summarize
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=12:00:00
#SBATCH --requeue
set -euo pipefail
input=${1:?input file or folder}
prefix=${2:?output prefix}
count=${SLURM_ARRAY_TASK_COUNT:?run under sbatch --array=0-(N-1)}
index=${SLURM_ARRAY_TASK_ID:?run under sbatch --array}
mkdir -p "$(dirname "$prefix")"
exec .build/release/dera summarize "$input" --out "$prefix-$index-of-$count.jsonl" --shard "$index/$count" \
  --threads "${SLURM_CPUS_PER_TASK:-2}" "${@:3}"
