#!/usr/bin/env bash
# Download a pretrained CycleGAN generator published with pytorch-CycleGAN-and-pix2pix.
#
# Usage: bash scripts/download_cyclegan_model.sh NAME
# Saves ./checkpoints/NAME_pretrained/latest_net_G.pth (relative to the current directory),
# ready for: python test.py --dataroot datasets/X/testA --name NAME_pretrained --model test --no_dropout
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

# Pick the downloader before touching the disk, so a missing tool leaves nothing behind.
pick_fetch

URL="http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/$NAME.pth"
TARGET_DIR="./checkpoints/${NAME}_pretrained"
TARGET="$TARGET_DIR/latest_net_G.pth"

mkdir -p "$TARGET_DIR"
# Download next to the target (same filesystem), then rename: an interrupted download
# never leaves a truncated latest_net_G.pth that would fail later with an obscure unpickling error.
TMP="$(mktemp "$TARGET_DIR/.latest_net_G.pth.XXXXXX")"
# On failure also drop the folder if this run left it empty.
trap 'rm -f "$TMP"; rmdir "$TARGET_DIR" 2>/dev/null || true' EXIT
echo "downloading $URL"
fetch "$URL" "$TMP"
mv -f "$TMP" "$TARGET"
echo "saved $TARGET"
