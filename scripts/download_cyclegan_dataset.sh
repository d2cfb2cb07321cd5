#!/usr/bin/env bash
# Download a dataset published with pytorch-CycleGAN-and-pix2pix.
#
# Usage: bash scripts/download_cyclegan_dataset.sh NAME
# Unpacks into ./datasets/NAME/ (relative to the current directory), e.g. trainA/ trainB/ testA/ testB/.
#
# Without bash (Windows), or to resume a broken download, the Python command does the same:
#   gantool download dataset NAME
# This script stays standalone on purpose (curl or wget, unzip or tar, no Python: it works before
# gantool is installed); tests/test_download_command.py keeps its names and URL equal to the
# command's (gantool/io/download_command.py).
set -euo pipefail

DATASETS=(apple2orange summer2winter_yosemite horse2zebra monet2photo cezanne2photo ukiyoe2photo
          vangogh2photo maps cityscapes facades iphone2dslr_flower mini mini_pix2pix
          mini_colorization ae_photos)

# Builtins only: the folder of this script, without needing dirname on PATH.
HERE="${BASH_SOURCE[0]%/*}"; [[ "$HERE" == "${BASH_SOURCE[0]}" ]] && HERE=.
source "$HERE/download_common.sh"
NAME="${1:-}"
check_name dataset "$NAME" "${DATASETS[@]}"

if [[ "$NAME" == "cityscapes" ]]; then
    # Its license forbids redistribution, so it is not on the server.
    echo "cityscapes cannot be redistributed: register at https://www.cityscapes-dataset.com," >&2
    echo "download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, and combine each" >&2
    echo "photo with its label map into side-by-side A|B images under ./datasets/cityscapes/{train,val}." >&2
    exit 1
fi

download_dataset "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/$NAME.zip" "$NAME"
