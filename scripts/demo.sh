#!/usr/bin/env bash
# The demo: install, draw the seed article's eight photos, ingest them into ./archive, search;
# then the wires' follow-ups: a refile, a repost from another supplier, a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export PATH="$PWD/.venv/bin:$PATH"

python scripts/make_demo_photos.py --out demo-photos --wire demo-wire
photoarchive init
photoarchive ingest demo-photos
# The last three: another spelling (Izyum for Izium), the Ukrainian name (Куп'янськ for
# Kupiansk), and the old name through the desk thesaurus (Kharkov for the Kharkiv region).
for query in "abandoned tanks river" "credit:reuters" "flag" "agency:\"channel 4\"" \
    "izyum" "Куп'янськ" "kharkov"; do
    echo
    echo "\$ photoarchive search '$query'"
    photoarchive search "$query"
done
echo
echo "\$ photoarchive search --since 1h --limit 3     # no words: the newest arrivals"
photoarchive search --since 1h --limit 3
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

echo
echo "# The wires follow up: a Reuters refile, the AFP turret reposted on Instagram, an AFP"
echo "# picture and the kill notice that withdraws it."
echo "\$ photoarchive ingest demo-wire"
photoarchive ingest demo-wire
echo
echo "\$ photoarchive search kupiansk     # the refile replaced the first version"
photoarchive search kupiansk
refile=$(photoarchive search kupiansk --json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
echo
echo "\$ photoarchive show $refile --history"
photoarchive show "$refile" --history | sed -n '1p;/^History:/,$p'
echo
echo "\$ photoarchive search turret       # two suppliers, two pictures, two verdicts"
photoarchive search turret
echo
echo "\$ photoarchive search turret --cleared-for editorial"
photoarchive search turret --cleared-for editorial
echo
echo "\$ photoarchive search 'shells OR withdrawn' --include killed --include notice"
photoarchive search "shells OR withdrawn" --include killed --include notice
echo
echo "\$ photoarchive kill $refile --reason 'location in doubt' --by 'night desk'"
photoarchive kill "$refile" --reason "location in doubt" --by "night desk"
echo "\$ photoarchive rights check $refile"
photoarchive rights check "$refile" || echo "(exit status $?: killed pictures are blocked)"
echo "\$ photoarchive unkill $refile --reason 'confirmed by Reuters' --by 'duty editor'"
photoarchive unkill "$refile" --reason "confirmed by Reuters" --by "duty editor"

article=../shared/seed/article.txt
if [ -f "$article" ]; then
    echo
    echo "\$ photoarchive captions extract $article"
    photoarchive captions extract "$article"
fi

echo
echo "The search desk: .venv/bin/photoarchive serve, then open http://127.0.0.1:8080/?q=flag"
