#!/usr/bin/env bash
# Fetches MovieLens-100K for `lyceum recommend eval` and `lyceum admin import-movielens` into
# data/ml-100k/: ml-100k.inter (the ratings) and ml-100k.item (titles and genres).
#
# Why this way: the GroupLens licence forbids redistributing the data set, so the repository
# never holds it (data/ is gitignored); a copy ships inside the recbole 1.2.1 wheel on PyPI,
# which is reachable wherever the project builds. Needs `pip` and `unzip` (or python3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/data/ml-100k"
files=(ml-100k.inter ml-100k.item)

if [[ -s "$dest/ml-100k.inter" && -s "$dest/ml-100k.item" ]]; then
    echo "already present: $dest/{ml-100k.inter,ml-100k.item}"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pip download --quiet --no-deps recbole==1.2.1 -d "$tmp"
wheel="$(ls "$tmp"/recbole-1.2.1-*.whl)"
mkdir -p "$dest"
for file in "${files[@]}"; do
    member="recbole/dataset_example/ml-100k/$file"
    if command -v unzip >/dev/null; then
        unzip -q -j -o "$wheel" "$member" -d "$dest"
    else
        python3 -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$wheel" "$member" "$dest/$file"
    fi
    echo "wrote $dest/$file ($(wc -l <"$dest/$file") lines)"
done
