#!/usr/bin/env bash
# Download a pretrained CycleGAN generator published with pytorch-CycleGAN-and-pix2pix.
#
# Usage: bash scripts/download_cyclegan_model.sh NAME
# Saves ./checkpoints/NAME_pretrained/latest_net_G.pth (relative to the current directory),
# ready for: python test.py --dataroot datasets/X/testA --name NAME_pretrained --model test --no_dropout
#
# Without bash (Windows), or to resume a broken download, the Python command does the same:
#   gantool download model NAME
# This script stays standalone on purpose (curl or wget, unzip or tar, no Python: it works before
# gantool is installed); tests/test_download_command.py keeps its names and URL equal to the
# command's (gantool/io/download_command.py).
set -euo pipefail

MODELS=(apple2orange orange2apple summer2winter_yosemite winter2summer_yosemite horse2zebra zebra2horse
        monet2photo style_monet style_cezanne style_ukiyoe style_vangogh sat2map map2sat
        cityscapes_photo2label cityscapes_label2photo facades_photo2label facades_label2photo
        iphone2dslr_flower)

# Builtins only: the folder of this script, without needing dirname on PATH.
HERE="${BASH_SOURCE[0]%/*}"; [[ "$HERE" == "${BASH_SOURCE[0]}" ]] && HERE=.
source "$HERE/download_common.sh"
NAME="${1:-}"
check_name model "$NAME" "${MODELS[@]}"

download_model "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/$NAME.pth" "$NAME"
