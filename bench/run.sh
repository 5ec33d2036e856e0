#!/usr/bin/env bash
# bench/run.sh: zonesync against the programs it stands beside.
#
# Each section times one job done by zonesync and by its anchor (the program
# whose job zonesync does) on the same input, several runs each, and prints
# the median wall time and the median peak RSS of both with zonesync/anchor
# ratios, so every figure stands beside the one it is measured against.
#
#   bash bench/run.sh              # every section
#   bash bench/run.sh parse        # only the named sections
#
# Settings (environment):
#   RUNS=5          timed runs per program; the median is reported
#   SERVERS=10000   server blocks in the generated config (15 directives each)
#   ZONESYNC=path   use this zonesync binary instead of building bin/zonesync
#
# To add a section (the API against Redis, replication against Redis, ...):
# write a function section_NAME that sets up its input, times both programs
# with measure, prints with table_header/table_row, and add NAME to SECTIONS.
set -euo pipefail

cd "$(dirname "$0")/.."
case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH=$PATH:/usr/local/go/bin ;; esac

SECTIONS=(parse)
RUNS=${RUNS:-5}
SERVERS=${SERVERS:-10000}

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# need CMD PACKAGE: install Debian's PACKAGE when CMD is missing.
apt_updated=
need() {
	command -v "$1" >/dev/null 2>&1 && return
	[ "$(id -u)" = 0 ] || die "$1 is missing: install the Debian package $2"
	log "installing $2 (for $1)"
	if [ -z "$apt_updated" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
	command -v "$1" >/dev/null 2>&1 || die "$2 installed but $1 still not found"
}

# measure OUT CMD...: run CMD once, append "seconds peak-KiB" to OUT.
# Fails, showing CMD's output, when CMD exits non-zero.
measure() {
	local out=$1 log_file
	shift
	log_file=$(mktemp "$work/measure.XXXXXX")
	if ! /usr/bin/time -f '%e %M' -o "$log_file.time" "$@" >"$log_file" 2>&1; then
		cat "$log_file" >&2
		die "failed: $*"
	fi
	cat "$log_file.time" >>"$out"
	rm -f "$log_file" "$log_file.time"
}

# median FILE COLUMN: the median of one column of a measure file.
median() {
	sort -n -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

table_header() {
	printf '%-16s %10s %10s %12s %12s\n' tool seconds 'peak MiB' "time/$1" "memory/$1"
}

# table_row NAME MEASURE_FILE ANCHOR_MEASURE_FILE
table_row() {
	local s m as am
	s=$(median "$2" 1)
	m=$(median "$2" 2)
	as=$(median "$3" 1)
	am=$(median "$3" 2)
	awk -v n="$1" -v s="$s" -v m="$m" -v as="$as" -v am="$am" 'BEGIN {
		rs = as > 0 ? sprintf("%.2fx", s / as) : "n/a"
		rm = am > 0 ? sprintf("%.2fx", m / am) : "n/a"
		printf "%-16s %10.2f %10.1f %12s %12s\n", n, s, m / 1024, rs, rm
	}'
}

# section_parse: check one large config with nginx -t and zonesync -t.
section_parse() {
	need nginx nginx-core

	# nginx -t opens and binds every listening socket (it only tolerates
	# ports already in use), so it needs one descriptor per listen.
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	local want=$((SERVERS + 256))
	[ "$(ulimit -n)" -ge "$want" ] ||
		die "open files limit $(ulimit -n) is below $want, which nginx -t needs for $SERVERS listens"

	local dir=$work/parse conf
	mkdir -p "$dir"
	conf=$dir/nginx.conf
	go build -o "$work/gen" ./bench/gen
	"$work/gen" -servers "$SERVERS" -o "$conf"
	local directives
	directives=$(tr -cd ';{' <"$conf" | wc -c)

	local nginx_cmd=(nginx -t -p "$dir/" -c "$conf" -e /dev/null)
	local zs_cmd=("$zonesync" -t -p "$dir/" -c "$conf" -e /dev/null)

	# One untimed run each: both must accept the file before timing means anything.
	: >"$work/warmup"
	measure "$work/warmup" "${nginx_cmd[@]}"
	measure "$work/warmup" "${zs_cmd[@]}"

	: >"$work/parse.nginx"
	: >"$work/parse.zonesync"
	local i
	for ((i = 0; i < RUNS; i++)); do
		measure "$work/parse.nginx" "${nginx_cmd[@]}"
		measure "$work/parse.zonesync" "${zs_cmd[@]}"
	done

	printf '\n== parse: -t on %d servers, %d directives (%s), median of %d runs, %s\n' \
		"$SERVERS" "$directives" "$(du -h "$conf" | cut -f1)" "$RUNS" "$(nginx -v 2>&1 | sed 's|.*: ||')"
	table_header nginx
	table_row 'nginx -t' "$work/parse.nginx" "$work/parse.nginx"
	table_row 'zonesync -t' "$work/parse.zonesync" "$work/parse.nginx"
}

main() {
	local run=("$@")
	[ ${#run[@]} -gt 0 ] || run=("${SECTIONS[@]}")
	local s
	for s in "${run[@]}"; do
		declare -F "section_$s" >/dev/null || die "unknown section $s (have: ${SECTIONS[*]})"
	done

	need /usr/bin/time time
	work=$(mktemp -d "${TMPDIR:-/tmp}/zonesync-bench.XXXXXX")
	trap 'rm -rf "$work"' EXIT

	zonesync=${ZONESYNC:-}
	if [ -z "$zonesync" ]; then
		log "building bin/zonesync"
		go build -o bin/zonesync ./cmd/zonesync
		zonesync=$PWD/bin/zonesync
	fi

	printf 'zonesync bench, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'machine: %s cores, %s, %s\n' "$(nproc)" \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)" \
		"$(go version | cut -d' ' -f3)"

	for s in "${run[@]}"; do
		"section_$s"
	done
}

main "$@"
