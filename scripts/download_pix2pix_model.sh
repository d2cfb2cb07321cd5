#!/usr/bin/env bash
# Download a pretrained pix2pix generator published with pytorch-CycleGAN-and-pix2pix.
#
# Usage: bash scripts/download_pix2pix_model.sh NAME
# Saves ./checkpoints/NAME_pretrained/latest_net_G.pth (relative to the current directory), ready for e.g.
#   python test.py --dataroot ./datasets/facades --direction BtoA --model pix2pix --name facades_label2photo_pretrained
#
# Without bash (Windows), or to resume a broken download, the Python command does the same:
#   gantool download model NAME --from pix2pix
# This script stays standalone on purpose (curl or wget, unzip or tar, no Python: it works before
# gantool is installed); tests/test_download_command.py keeps its names and URL equal to the
# command's (gantool/io/download_command.py).
set -euo pipefail

MODELS=(edges2shoes sat2map map2sat facades_label2photo day2night)

# Builtins only: the folder of this script, without needing dirname on PATH.
HERE="${BASH_SOURCE[0]%/*}"; [[ "$HERE" == "${BASH_SOURCE[0]}" ]] && HERE=.
source "$HERE/download_common.sh"
NAME="${1:-}"
check_name model "$NAME" "${MODELS[@]}"

download_model "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/$NAME.pth" "$NAME"
