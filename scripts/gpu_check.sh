#!/usr/bin/env bash
# One-call GPU check for gantool's fast path (issue 16), on a machine with one NVIDIA H100/H200 (torch
# preinstalled, no network). Run from the repository root: `bash scripts/gpu_check.sh` (time limit ~590 s).
# It stops starting new phases after about 480 s. What comes back: $OUT/summary.txt (read it first),
# pytest.txt, bench_*.json/txt, classic.json, logs.tar.gz.
#
# Preparation (on the development machine, into the git-ignored folder .gpu/, carried with the run):
#   - the dominate wheel (the GPU machine has none):
#       python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux2014_x86_64 -d .gpu/whl dominate
#   - optional: the classic code at upstream commit 2a7afba in .gpu/classic/ (scripts/bench_classic.py makes
#     its own wandb stand-in).
# Phases: 1. functional checks through the real command lines with the test suite beside them;
#         2. scripts/benchmark.py: every case in every configuration (eager fp32/bf16, compiled fp32/bf16),
#            batch 1, then CycleGAN 256 at batch 4 and 16;
#         3. quality: pix2pix on the built-in pairs, eager and compiled, the same iterations: paired PSNR;
#         4. scripts/bench_classic.py: the classic train.py/test.py side by side with gantool's (ABAB).
set -u
export PYTHONUNBUFFERED=1
O=${OUT:-/tmp/out}; mkdir -p "$O" /tmp/logs
S=$O/summary.txt
M=$(pwd); G=$M/.gpu
log() { echo "== $(date +%T) t=${SECONDS}s $*" | tee -a "$S"; }
if ls "$G"/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site "$G"/whl/*.whl 2>&1 | tail -1
fi
export PYTHONPATH=$M:/tmp/site
nvidia-smi -L | tee -a "$S"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name(0))" 2>&1 | tee -a "$S"
f() { local name=$1 t=$2; shift 2; local s=$SECONDS; timeout "$t" "$@" > /tmp/logs/$name.log 2>&1; local rc=$?
      log "$name rc=$rc $((SECONDS-s))s :: $(grep -v '^\s*$' /tmp/logs/$name.log | tail -2 | tr '\n' '|' | cut -c1-300)"; }
# ---- 1. functional checks, with the test suite beside them ----
( timeout 200 python3 -m pytest -p no:cacheprovider -q -rfE -n 8 --timeout 150 tests > "$O/pytest.txt" 2>&1
  echo "pytest exit status $?" >> "$O/pytest.txt" ) &
PT=$!
f demo_train 120 python3 train.py --model cycle_gan --display_id 0 --name gpu_demo
grep -m2 "gantool: " /tmp/logs/demo_train.log >> "$S"
f demo_test 60 python3 test.py --model cycle_gan --name gpu_demo
f compiled_train 150 python3 train.py --model cycle_gan --display_id 0 --name gpu_compiled --compile on --max_iters 200
grep "torch.compile\|precision" /tmp/logs/compiled_train.log | head -2 >> "$S"
f compiled_resume 120 python3 train.py --model cycle_gan --display_id 0 --name gpu_compiled --compile on --max_iters 300 --continue_train
f torchrun_nccl 90 torchrun --standalone --nproc_per_node 1 train.py --model cycle_gan --name gpu_ddp --max_iters 60 --display_id 0
wait $PT; log "pytest: $(grep -E 'passed|failed|error' "$O/pytest.txt" | tail -1)"
# ---- 2. the benchmark: eager and compiled, fp32 and bf16; batch 1, then 4 and 16 ----
if [ $SECONDS -lt 300 ]; then
  s=$SECONDS; timeout 150 python3 scripts/benchmark.py --device cuda --repeats 20 --json \
    --configs classic fp32 bf16 compiled compiled_bf16 > "$O/bench_b1.json" 2> "$O/bench_b1.txt"
  log "benchmark batch 1 rc=$? $((SECONDS-s))s"; grep -v "^\s*$" "$O/bench_b1.txt" | tail -30 >> "$S"
fi
for b in 4 16; do
  if [ $SECONDS -lt 380 ]; then
    s=$SECONDS; timeout 60 python3 scripts/benchmark.py --device cuda --repeats 10 --json --only cycle_gan_256 \
      --batch $b --configs fp32 bf16 compiled compiled_bf16 > "$O/bench_b$b.json" 2> "$O/bench_b$b.txt"
    log "benchmark CycleGAN 256 batch $b rc=$? $((SECONDS-s))s"; grep "s/step" "$O/bench_b$b.txt" >> "$S"
  fi
done
# ---- 3. quality: the same iterations eager and compiled give the same paired PSNR (within 0.5 dB) ----
if [ $SECONDS -lt 420 ]; then
  for c in off on; do
    f "quality_$c" 90 sh -c "python3 train.py --model pix2pix --name q_$c --compile $c --max_iters 400 --seed 1 --display_id 0 \
      && python3 test.py --model pix2pix --name q_$c --seed 1"
  done
  log "quality (pix2pix, 400 iterations): $(grep -h 'paired quality' /tmp/logs/quality_off.log /tmp/logs/quality_on.log | tr '\n' '|')"
fi
# ---- 4. the classic code side by side (real command lines, interleaved) ----
if [ -f "$G/classic/train.py" ] && [ $SECONDS -lt 480 ]; then
  s=$SECONDS; timeout 110 python3 scripts/bench_classic.py "$G/classic" --device cuda --size 256 --rounds 2 --json \
    > "$O/classic.json" 2> /tmp/logs/classic.txt
  log "side by side rc=$? $((SECONDS-s))s"; tail -8 /tmp/logs/classic.txt >> "$S"
fi
tar -C /tmp -czf "$O/logs.tar.gz" logs
log "done"
