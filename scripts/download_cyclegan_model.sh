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

usage() {
    echo "usage: $0 NAME" >&2
    echo "available models: ${MODELS[*]}" >&2
}

NAME="${1:-}"
case "$NAME" in
    -h|--help) usage; exit 0 ;;
esac
known=0
for candidate in "${MODELS[@]}"; do
    [[ "$NAME" == "$candidate" ]] && known=1
done
if [[ "$known" == 0 ]]; then
    [[ -n "$NAME" ]] && echo "unknown model '$NAME'" >&2
    usage
    exit 2
fi

# Pick the downloader before touching the disk, so a missing tool leaves nothing behind.
if command -v curl >/dev/null 2>&1; then
    fetch() { curl -fL --retry 3 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget -O "$2" "$1"; }
else
    echo "error: downloading needs curl or wget; install one of them and run again" >&2
    exit 1
fi

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
