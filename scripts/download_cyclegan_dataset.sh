#!/usr/bin/env bash
# Download a dataset published with pytorch-CycleGAN-and-pix2pix.
#
# Usage: bash scripts/download_cyclegan_dataset.sh NAME
# Unpacks into ./datasets/NAME/ (relative to the current directory), e.g. trainA/ trainB/ testA/ testB/.
set -euo pipefail

DATASETS=(apple2orange summer2winter_yosemite horse2zebra monet2photo cezanne2photo ukiyoe2photo
          vangogh2photo maps cityscapes facades iphone2dslr_flower mini mini_pix2pix
          mini_colorization ae_photos)

usage() {
    echo "usage: $0 NAME" >&2
    echo "available datasets: ${DATASETS[*]}" >&2
}

NAME="${1:-}"
case "$NAME" in
    -h|--help) usage; exit 0 ;;
esac
known=0
for candidate in "${DATASETS[@]}"; do
    [[ "$NAME" == "$candidate" ]] && known=1
done
if [[ "$known" == 0 ]]; then
    [[ -n "$NAME" ]] && echo "unknown dataset '$NAME'" >&2
    usage
    exit 2
fi

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
if command -v curl >/dev/null 2>&1; then
    fetch() { curl -fL --retry 3 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget -O "$2" "$1"; }
else
    echo "error: downloading needs curl or wget; install one of them and run again" >&2
    exit 1
fi
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
