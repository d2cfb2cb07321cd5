#!/usr/bin/env bash
# Download a pretrained pix2pix generator published with pytorch-CycleGAN-and-pix2pix.
#
# Usage: bash scripts/download_pix2pix_model.sh NAME
# Saves ./checkpoints/NAME_pretrained/latest_net_G.pth (relative to the current directory), ready for e.g.
#   python test.py --dataroot ./datasets/facades --direction BtoA --model pix2pix --name facades_label2photo_pretrained
set -euo pipefail

MODELS=(edges2shoes sat2map map2sat facades_label2photo day2night)

# Builtins only: the folder of this script, without needing dirname on PATH.
HERE="${BASH_SOURCE[0]%/*}"; [[ "$HERE" == "${BASH_SOURCE[0]}" ]] && HERE=.
source "$HERE/download_common.sh"
NAME="${1:-}"
check_name model "$NAME" "${MODELS[@]}"

# Pick the downloader before touching the disk, so a missing tool leaves nothing behind.
pick_fetch

URL="http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/$NAME.pth"
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
