# Shared by the download_*.sh scripts (sourced, not run): the name check and the downloader.
#
#   check_name KIND NAME CHOICES...   -h/--help: usage, exit 0; unknown or missing NAME: usage, exit 2
#   pick_fetch                        defines `fetch URL FILE` with curl or wget, or exits 1 naming both

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
