#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-report.sh BUILD: the qc report as a clinician's browser shows it.
# gaitcap qc writes reports for the imported Moticon fixture and for a
# refine folder; headless Chromium renders each (--screenshot) and dumps
# the DOM it built (--dump-dom). A report passes when the screenshot is not
# blank and every plot and table is in the page, each plot a PNG Chromium
# decoded. The checker itself is shown failing on a blank page and on a
# page with a plot taken out. TAP on stdout (scripts/suite, suite
# report-chromium).
set -u
build=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
gaitcap=$build/bin/gaitcap
stats=$build/tests/report/png_stats
fixture=$top/tests/fixtures/moticon-opengo/walk_data_with_events.txt
work=$(mktemp -d /tmp/gaitcap-report.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=0
echo "1..13"

ok() {	# ok DESCRIPTION COMMAND...
	local what=$1
	shift
	n=$((n + 1))
	if "$@" >"$work/last.log" 2>&1; then
		echo "ok $n $what"
	else
		echo "not ok $n $what"
		sed 's/^/#   /' "$work/last.log" | tail -n 20
	fi
}

# Chromium refuses to run as root with its sandbox; CI runs as root.
sandbox=()
[ "$(id -u)" -eq 0 ] && sandbox=(--no-sandbox)
chrome() {	# chrome MODE-ARGS... URL
	timeout 120 chromium --headless "${sandbox[@]}" --disable-gpu \
		--hide-scrollbars --no-first-run --disable-dev-shm-usage \
		--user-data-dir="$work/profile" --virtual-time-budget=5000 "$@"
}

# A page and its DOM: the screenshot has content, every id is there,
# every plot a PNG of real size.
IDS="verdict plot-footprints plot-force plot-steps plot-cop table-parameters table-checks"
check_page() {	# check_page HTML NAME
	local html=$1 name=$2 shot=$work/$2.png dom=$work/$2.dom
	chrome --screenshot="$shot" --window-size=1100,4200 "file://$html" ||
		{ echo "chromium could not take the screenshot"; return 1; }
	read -r w h nonwhite colours heat < <("$stats" "$shot") ||
		{ echo "the screenshot is not a PNG"; return 1; }
	echo "screenshot ${w}x$h: $nonwhite non-white pixels, $colours colours, $heat heat-coloured"
	[ "$nonwhite" -gt $((w * h / 20)) ] || { echo "blank: under 5 % of it is not white"; return 1; }
	[ "$colours" -gt 50 ] || { echo "blank: only $colours colours"; return 1; }
	[ "$heat" -gt 200 ] || { echo "no pressure colours: no plot was drawn"; return 1; }
	chrome --dump-dom "file://$html" >"$dom" || { echo "chromium could not dump the DOM"; return 1; }
	check_dom "$dom"
}

check_dom() {	# check_dom DOM: every id, plots as decodable PNGs, tables with rows
	local dom=$1 id
	for id in $IDS; do
		grep -q "id=\"$id\"" "$dom" || { echo "$id is missing from the page"; return 1; }
	done
	for id in plot-footprints plot-force plot-steps plot-cop; do
		grep -o "<img id=\"$id\"[^>]*src=\"data:image/png;base64,[A-Za-z0-9+/=]*\"" "$dom" |
			sed 's/.*base64,//; s/"$//' | base64 -d >"$work/$id.png" 2>/dev/null
		read -r w h _ < <("$stats" "$work/$id.png" 2>/dev/null) ||
			{ echo "$id is not a PNG"; return 1; }
		[ "$w" -ge 400 ] && [ "$h" -ge 200 ] || { echo "$id is ${w}x$h"; return 1; }
	done
	# Each table has a header and at least one row of content.
	for id in table-parameters table-checks; do
		[ "$(table "$dom" "$id" | grep -c '<tr')" -ge 2 ] ||
			{ echo "$id has no rows"; return 1; }
	done
}

table() {	# table DOM ID: the lines of that table (start and end may share one)
	awk -v id="id=\"$2\"" 'index($0, id) { on = 1 } on { print } on && /<\/table>/ { exit }' "$1"
}

# 1-3: the imported fixture, a session alone.
ok "import the Moticon fixture" "$gaitcap" import moticon "$fixture" -o "$work/m.gcs" --subject LAB-01
qc_ok() { "$gaitcap" qc "$@"; [ $? -ne 1 ]; }
ok "qc writes the report of the imported session" qc_ok "$work/m.gcs" --json "$work/m.json" --report "$work/m.html"
ok "Chromium shows the session report: not blank, every plot and table" check_page "$work/m.html" session

# 4-7: a refine folder. gaitcap refine when this build has it, otherwise
# refine's files as docs/gait-parameters.md lays them out, written here.
out=$work/refine
ok "a synth session with a mat and two insoles" "$gaitcap" synth --seconds 20 --quiet "$work/s.gcs"
if "$gaitcap" refine --help >/dev/null 2>&1; then
	ok "gaitcap refine writes its folder" "$gaitcap" refine "$work/s.gcs" -o "$out"
else
	mkdir -p "$out" && cp "$work/s.gcs" "$out/refined.gcs"
	printf 'side\tstride\tstride_s\tvalid\nleft\t1\t1.05\t1\nright\t1\t1.06\t1\n' >"$out/strides.tsv"
	printf 't_s\tside\tevent\tsource\n1.00\tleft\tIC\tinsole\n1.62\tleft\tTO\tinsole\n' >"$out/events.tsv"
	printf '{"insole":{"left":{"stride_s":{"mean":1.05,"sd":0.02,"n":12}},"right":{"stride_s":{"mean":1.06,"sd":0.02,"n":12}},"cadence_steps_per_min":113},"mat":{"velocity_m_s":1.2}}\n' >"$out/parameters.json"
	ok "no gaitcap refine in this build: refine's four files written by hand # refine not merged" true
fi
ok "qc writes the report of the refine folder" qc_ok "$out" --json "$work/r.json" --report "$work/r.html"
ok "Chromium shows the refine report: not blank, every plot and table" check_page "$work/r.html" refine
ok "the refine report's parameter table has parameters" \
	sh -c "$(declare -f table); table '$work/refine.dom' table-parameters | grep -q '<td>[0-9.]*</td>'"

# 8-9: every check of the JSON is a row of the table, with its verdict.
rows_match() {	# rows_match JSON DOM
	local want got
	want=$(grep -c '"id":' "$1")
	got=$(table "$2" table-checks | grep -c '<tr class=')
	echo "checks in the JSON: $want, rows in the table: $got"
	[ "$want" -gt 0 ] && [ "$want" -eq "$got" ]
}
ok "the session report lists every check of its JSON" rows_match "$work/m.json" "$work/session.dom"
ok "the refine report lists every check of its JSON" rows_match "$work/r.json" "$work/refine.dom"

# 10-12: the checker fails when it should.
printf '<!DOCTYPE html><html><body></body></html>\n' >"$work/blank.html"
fails() { ! "$@"; }
ok "the checker calls a blank page blank" fails check_page "$work/blank.html" blank
sed 's/id="plot-cop"/id="plot-gone"/' "$work/m.html" >"$work/nocop.html"
ok "the checker misses a plot taken out of the page" fails check_page "$work/nocop.html" nocop
awk '/id="table-parameters"/ { print "<table id=\"table-parameters\"></table>"; skip = 1; next }
	     skip && /<\/table>/ { skip = 0; next } !skip' "$work/session.dom" >"$work/empty-table.dom"
ok "the checker misses an empty table" fails check_dom "$work/empty-table.dom"
