#!/bin/bash
# CodiEsp-D (English) results of docs/results.md: one `clincode train` per model. Resumable: rerun
# to continue where it stopped. Budget: max_epochs 15, patience 4, best epoch by val/auprc_micro.
# Usage: bash benchmarks/codiesp_results.sh CODIESP_DIR   (the release directory: train/, dev/, test/)
CODIESP=$(realpath "${1:?usage: bash benchmarks/codiesp_results.sh CODIESP_DIR}")
cd "$(dirname "$0")/.." && mkdir -p runs/textpath
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
C=src/clincode/configs
COMMON="--set data.path=$CODIESP --set out_dir=runs/textpath --set trainer.max_epochs=15 --set trainer.patience=4 --set trainer.monitor=val/auprc_micro --set trainer.progress=false --set eval.n_bootstrap=100"
run() { local name=$1; shift; local t0=$(date +%s)
  nice -n 10 .venv/bin/clincode train "$@" $COMMON --set name=$name > runs/textpath/$name.log 2>&1
  echo "$name rc=$? wall_s=$(( $(date +%s) - t0 ))" >> runs/textpath/timings.txt; }
run cnn $C/codiesp_cnn.yaml
run caml $C/codiesp_caml.yaml
run marn $C/codiesp_marn.yaml
run bigru $C/codiesp_bigru.yaml
run laat $C/codiesp_laat.yaml
run marn_no_multitask $C/codiesp_marn.yaml --set data.params.ccs=false
run marn_no_ram $C/codiesp_marn.yaml --set model.params.use_ram=false
run marn_bce $C/codiesp_marn.yaml --set loss.name=bce
# Code descriptions: description-initialised label queries [ours] and DR-CAML's regulariser
run caml_desc $C/codiesp_caml.yaml --set model.params.init_queries_from_descriptions=true
run laat_desc $C/codiesp_laat.yaml --set model.params.init_queries_from_descriptions=true
run dr_caml $C/codiesp_caml.yaml --set model.name=dr_caml
