#!/bin/bash
# Segmented Harmonic results of docs/results.md on CodiEsp-D (English): MiniLM + LoRA + label
# attention, {bce, focal, sh, sh_focal} x {no noise filter, tau 0.55}; small CPU budget.
# Usage: bash benchmarks/codiesp_sh_results.sh CODIESP_DIR   (the release directory: train/, dev/, test/)
CODIESP=$(realpath "${1:?usage: bash benchmarks/codiesp_sh_results.sh CODIESP_DIR}")
cd "$(dirname "$0")/.." && mkdir -p runs/sh
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
COMMON="--set data.path=$CODIESP --set out_dir=runs/sh --set data.params.max_tokens=128 --set trainer.max_epochs=2 --set trainer.progress=false --set eval.n_bootstrap=0"
# most informative pairs first (the CPU budget may not reach the end)
for pair in bce:null sh_focal:null bce:0.55 sh_focal:0.55 focal:null sh:null focal:0.55 sh:0.55; do
  loss=${pair%%:*}; filter=${pair##*:}
  {
    name="sh_${loss}_tau${filter}"
    start=$(date +%s)
    .venv/bin/clincode train configs/codiesp_sh.yaml $COMMON --set name=$name --set loss.name=$loss --set loss.params={} --set data.params.noise_filter_tau=$filter > runs/sh/$name.log 2>&1
    echo "$name rc=$? seconds=$(( $(date +%s) - start ))" >> runs/sh/times.txt
  }
done
