#!/usr/bin/env bash
# The demo: install, draw the seed article's eight photos, ingest them into ./archive, search.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export PATH="$PWD/.venv/bin:$PATH"

python scripts/make_demo_photos.py --out demo-photos
photoarchive init
photoarchive ingest demo-photos
for query in "abandoned tanks river" "credit:reuters" "flag" "agency:\"channel 4\""; do
    echo
    echo "\$ photoarchive search '$query'"
    photoarchive search "$query"
done
echo
id=$(photoarchive search "credit:afp" --json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
echo "\$ photoarchive show $id"
photoarchive show "$id"
echo
photoarchive stats

echo
echo "\$ photoarchive rights check --use editorial"
# Exit status 1 means some photos may not be published as they are: expected here.
photoarchive rights check --use editorial || echo "(exit status $?: not every photo is cleared)"

article=../shared/seed/article.txt
if [ -f "$article" ]; then
    echo
    echo "\$ photoarchive captions extract $article"
    photoarchive captions extract "$article"
fi

echo
echo "The search desk: .venv/bin/photoarchive serve, then open http://127.0.0.1:8080/?q=flag"
