#!/usr/bin/env bash
# Download a dataset published with pytorch-CycleGAN-and-pix2pix.
#
# Usage: bash scripts/download_cyclegan_dataset.sh NAME
# Unpacks into ./datasets/NAME/ (relative to the current directory), e.g. trainA/ trainB/ testA/ testB/.
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

TARGET_DIR="./datasets/$NAME"
if [[ -e "$TARGET_DIR" ]]; then
    echo "error: $TARGET_DIR already exists; remove it to download again" >&2
    exit 1
fi

# Check the tools before touching the disk, so a missing one leaves nothing behind.
pick_fetch
if ! command -v unzip >/dev/null 2>&1; then
    echo "error: unpacking needs unzip; install it and run again" >&2
    exit 1
fi

URL="http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/$NAME.zip"
mkdir -p ./datasets
# Work in a hidden folder beside the target (same filesystem) and rename at the end, so an
# interrupted run never leaves a half-filled ./datasets/NAME that looks complete.
WORK="$(mktemp -d "./datasets/.download_$NAME.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "downloading $URL"
fetch "$URL" "$WORK/$NAME.zip"
unzip -q "$WORK/$NAME.zip" -d "$WORK/unpacked"
if [[ -d "$WORK/unpacked/$NAME" ]]; then
    # The published zips hold one top-level folder named after the dataset.
    mv "$WORK/unpacked/$NAME" "$TARGET_DIR"
else
    mv "$WORK/unpacked" "$TARGET_DIR"
fi
echo "saved $TARGET_DIR"
