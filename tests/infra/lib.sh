# SPDX-License-Identifier: GPL-2.0
# Shared by the tests/infra scripts: TAP output and a scratch folder.
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
n=0
fails=0

# ok DESC CMD...: one TAP line for CMD's exit status; its output on failure.
ok() {
	local what=$1
	shift
	n=$((n + 1))
	if "$@" >"$scratch/.out" 2>&1; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		tail -n 30 "$scratch/.out" | sed 's/^/# /'
		fails=$((fails + 1))
	fi
}

# same DESC GOT WANT: one TAP line, both values shown on failure.
same() {
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		printf '# got:  %s\n# want: %s\n' "$2" "$3"
		fails=$((fails + 1))
	fi
}

done_tap() {
	echo "1..$n"
	exit $((fails > 0))
}
