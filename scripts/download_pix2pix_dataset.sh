#!/usr/bin/env bash
# Download an aligned (A|B side by side) dataset published with pytorch-CycleGAN-and-pix2pix.
#
# Usage: bash scripts/download_pix2pix_dataset.sh NAME
# Unpacks into ./datasets/NAME/ (relative to the current directory): train/ val/ test/ of A|B images, for e.g.
#   python train.py --dataroot ./datasets/facades --name facades_pix2pix --model pix2pix --direction BtoA
#
# Without bash (Windows), or to resume a broken download, the Python command does the same:
#   gantool download dataset NAME --from pix2pix
# This script stays standalone on purpose (curl or wget, unzip or tar, no Python: it works before
# gantool is installed); tests/test_download_command.py keeps its names and URL equal to the
# command's (gantool/io/download_command.py).
set -euo pipefail

DATASETS=(facades cityscapes maps edges2shoes edges2handbags night2day)

# Builtins only: the folder of this script, without needing dirname on PATH.
HERE="${BASH_SOURCE[0]%/*}"; [[ "$HERE" == "${BASH_SOURCE[0]}" ]] && HERE=.
source "$HERE/download_common.sh"
NAME="${1:-}"
check_name dataset "$NAME" "${DATASETS[@]}"

if [[ "$NAME" == "cityscapes" ]]; then
    # Its license forbids redistribution, so it is not on the server.
    echo "cityscapes cannot be redistributed: register at https://www.cityscapes-dataset.com," >&2
    echo "download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, and combine each" >&2
    echo "label map with its photo into A|B images (datasets/combine_A_and_B.py) under ./datasets/cityscapes/{train,val}." >&2
    exit 1
fi

download_dataset "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/$NAME.tar.gz" "$NAME"
