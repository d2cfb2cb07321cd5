# Shared by the download_*.sh scripts (sourced, not run): the name check and the downloader.
#
#   check_name KIND NAME CHOICES...   -h/--help: usage, exit 0; unknown or missing NAME: usage, exit 2
#   pick_fetch                        defines `fetch URL FILE` with curl or wget, or exits 1 naming both
#   download_model URL NAME           ./checkpoints/NAME_pretrained/latest_net_G.pth, atomically
#   download_dataset URL NAME         unpack a .zip or .tar.gz into ./datasets/NAME, atomically

check_name() {
    local kind=$1 name=$2 candidate
    shift 2
    if [[ "$name" == "-h" || "$name" == "--help" ]]; then
        echo "usage: $0 NAME" >&2
        echo "available ${kind}s: $*" >&2
        exit 0
    fi
    for candidate in "$@"; do
        [[ "$name" == "$candidate" ]] && return 0
    done
    [[ -n "$name" ]] && echo "unknown $kind '$name'" >&2
    echo "usage: $0 NAME" >&2
    echo "available ${kind}s: $*" >&2
    exit 2
}

# Called before anything touches the disk, so a missing tool leaves nothing behind.
pick_fetch() {
    if command -v curl >/dev/null 2>&1; then
        fetch() { curl -fL --retry 3 -o "$2" "$1"; }
    elif command -v wget >/dev/null 2>&1; then
        fetch() { wget -O "$2" "$1"; }
    else
        echo "error: downloading needs curl or wget; install one of them and run again" >&2
        exit 1
    fi
}

# download_model URL NAME: ./checkpoints/NAME_pretrained/latest_net_G.pth. The file is fetched next to
# the target (same filesystem) and renamed, so an interrupted download never leaves a truncated
# latest_net_G.pth that would fail later with an obscure unpickling error.
download_model() {
    local url=$1
    pick_fetch  # before touching the disk, so a missing tool leaves nothing behind
    MODEL_DIR="./checkpoints/${2}_pretrained"
    local target="$MODEL_DIR/latest_net_G.pth"
    mkdir -p "$MODEL_DIR"
    MODEL_TMP="$(mktemp "$MODEL_DIR/.latest_net_G.pth.XXXXXX")"
    # On failure also drop the folder if this run left it empty.
    trap 'rm -f "$MODEL_TMP"; rmdir "$MODEL_DIR" 2>/dev/null || true' EXIT
    echo "downloading $url"
    fetch "$url" "$MODEL_TMP"
    mv -f "$MODEL_TMP" "$target"
    echo "saved $target"
}

# download_dataset URL NAME: unpack the .zip or .tar.gz at URL into ./datasets/NAME. The work happens in a
# hidden folder beside the target (same filesystem), renamed at the end, so an interrupted run never leaves
# a half-filled ./datasets/NAME that looks complete.
download_dataset() {
    local url=$1 name=$2 tool archive
    local target="./datasets/$name"
    if [[ -e "$target" ]]; then
        echo "error: $target already exists; remove it to download again" >&2
        exit 1
    fi
    [[ "$url" == *.zip ]] && tool=unzip || tool=tar
    # Check the tools before touching the disk, so a missing one leaves nothing behind.
    pick_fetch
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: unpacking needs $tool; install it and run again" >&2
        exit 1
    fi
    mkdir -p ./datasets
    DATASET_WORK="$(mktemp -d "./datasets/.download_$name.XXXXXX")"
    trap 'rm -rf "$DATASET_WORK"' EXIT
    archive="$DATASET_WORK/${url##*/}"
    echo "downloading $url"
    fetch "$url" "$archive"
    mkdir "$DATASET_WORK/unpacked"
    if [[ "$tool" == unzip ]]; then
        unzip -q "$archive" -d "$DATASET_WORK/unpacked"
    else
        tar -xzf "$archive" -C "$DATASET_WORK/unpacked"
    fi
    if [[ -d "$DATASET_WORK/unpacked/$name" ]]; then
        # The published archives hold one top-level folder named after the dataset.
        mv "$DATASET_WORK/unpacked/$name" "$target"
    else
        mv "$DATASET_WORK/unpacked" "$target"
    fi
    echo "saved $target"
}
