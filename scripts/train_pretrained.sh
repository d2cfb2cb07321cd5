#!/usr/bin/env bash
# Train the small pretrained generators that ship in gantool/pretrained/, pack them (float16) and
# measure them. Fixed seeds and one thread, so a rerun gives the same files on the same machine.
#
#   bash scripts/train_pretrained.sh                 # everything: train, pack, measure
#   bash scripts/train_pretrained.sh cyclegan gan    # only these trainings (then pack + measure all)
#   bash scripts/train_pretrained.sh measure         # no training: pack the existing runs and measure
#
# Steps: cyclegan pix2pix gan dcgan (training), then pack and measure always run.
# Runs go to build/pretrained_runs/, measurements to build/pretrained_results/.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
RUNS=build/pretrained_runs
RESULTS=build/pretrained_results
COMMON=(--checkpoints_dir "$RUNS" --display_id 0 --gpu_ids -1 --precision fp32)
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(cyclegan pix2pix gan dcgan)

for step in "${steps[@]}"; do
  case "$step" in
    # CycleGAN on the built-in toy_day2night (demo defaults: resnet_6blocks_resize, DiffAugment, 64x64,
    # 2 + 1 epochs), ngf 16.
    cyclegan) python train.py --model cycle_gan --name toy_day2night_cyclegan --ngf 16 --seed 1 "${COMMON[@]}" ;;
    # pix2pix on its day|night pairs (demo defaults: unet_64, DiffAugment, 4 + 4 epochs), ngf 8.
    pix2pix) python train.py --model pix2pix --name toy_day2night_pix2pix --ngf 8 --seed 1 "${COMMON[@]}" ;;
    # The MLP GAN and DCGAN on the built-in digits (demo defaults: lr 4e-4), shorter than their demos.
    gan) python train.py --model gan --name digits_gan --n_epochs 10 --n_epochs_decay 5 --seed 1 "${COMMON[@]}" ;;
    dcgan) python train.py --model dcgan --name digits_dcgan --n_epochs 2 --n_epochs_decay 1 --seed 1 "${COMMON[@]}" ;;
    measure) ;;
    *) echo "unknown step $step (cyclegan pix2pix gan dcgan measure)" >&2; exit 2 ;;
  esac
done

pack() { if [ -f "$RUNS/$1" ]; then python scripts/pack_pretrained.py "$RUNS/$1" "$2"; else echo "skip $2: no $RUNS/$1"; fi; }
pack toy_day2night_cyclegan/latest_net_G_A.pth toy_day2night_pretrained
pack toy_day2night_cyclegan/latest_net_G_B.pth toy_night2day_pretrained
pack toy_day2night_pix2pix/latest_net_G.pth toy_day2night_pix2pix_pretrained
pack digits_gan/latest_net_G.pth digits_gan_pretrained
pack digits_dcgan/latest_net_G.pth digits_dcgan_pretrained
du -b gantool/pretrained/*/*.pth

# Measure the shipped files exactly as a user runs them (an empty --checkpoints_dir: the package copy is used).
TEST=(--checkpoints_dir "$RUNS/none" --results_dir "$RESULTS" --seed 1 --gpu_ids -1 --precision fp32)
python test.py --model test --name toy_day2night_pretrained --no_dropout "${TEST[@]}"
python test.py --model test --name toy_night2day_pretrained --no_dropout --direction BtoA "${TEST[@]}"
python test.py --model pix2pix --name toy_day2night_pix2pix_pretrained "${TEST[@]}"
python test.py --model gan --name digits_gan_pretrained "${TEST[@]}"
python test.py --model dcgan --name digits_dcgan_pretrained "${TEST[@]}"
python scripts/eval_paired.py "$RESULTS"/toy_day2night_pretrained/test_latest \
  "$RESULTS"/toy_night2day_pretrained/test_latest "$RESULTS"/toy_day2night_pix2pix_pretrained/test_latest
python -m pytest -q tests/test_pretrained.py
