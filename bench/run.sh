#!/usr/bin/env bash
# bench/run.sh: zonesync against the programs it stands beside.
#
# Each section measures one job done by zonesync and by its anchor (the
# program whose job zonesync does, or the store users would otherwise run)
# on the same machine in the same run, and prints zonesync's figures beside
# the anchor's with zonesync/anchor ratios. bench/README.md says what each
# section measures, how, and the goal it is read against.
#
#   bash bench/run.sh              # every section
#   bash bench/run.sh api memory   # only the named sections
#
# Sections: parse (zonesync -t against nginx -t), api (the NGINX Plus API of
# a running node against redis-server, requests per second), memory (bytes
# per stored record, node against redis-server), sync (zone_sync replication
# between two nodes against a Redis primary and replica; bench/sync.sh),
# proxy (the HTTP reverse proxy of a node against nginx's, requests per
# second and p99 through wrk; bench/proxy.sh), limitreq (how closely a
# synced limit_req holds on three nodes, beside nginx alone; bench/limitreq.sh).
#
# Settings (environment):
#   RUNS=5               parse: timed runs per program; the median is reported
#   SERVERS=10000        parse: server blocks in the generated config (15 directives each)
#   API_REQUESTS=100000  api: requests per test
#   API_CONNS=50         api: concurrent keep-alive connections
#   API_RUNS=3           api: runs of every test; the median is reported
#   MEM_RECORDS=200000   memory: records stored on each side
#   ZONESYNC=path        use this zonesync binary instead of building bin/zonesync
#
# Every process a section starts (node, redis-server) is stopped when the
# section ends and, on failure or interruption, by the EXIT trap.
#
# To add a section: write a function section_NAME that sets up its input,
# measures zonesync and its anchor, prints both with ratios, and add NAME to
# SECTIONS.
set -euo pipefail

cd "$(dirname "$0")/.."
case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH=$PATH:/usr/local/go/bin ;; esac

SECTIONS=(parse api memory sync proxy limitreq)
RUNS=${RUNS:-5}
SERVERS=${SERVERS:-10000}
API_REQUESTS=${API_REQUESTS:-100000}
API_CONNS=${API_CONNS:-50}
API_RUNS=${API_RUNS:-3}
MEM_RECORDS=${MEM_RECORDS:-200000}

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

# ---- processes ------------------------------------------------------------

# started holds the pid of every process the script started and has not
# stopped yet; cleanup stops them on any exit.
started=()

# start_bg LOG CMD...: run CMD in the background with its output in LOG and
# set bg_pid. CMD must be a program, not a function, so bg_pid is its pid.
start_bg() {
	local log_file=$1
	shift
	"$@" >"$log_file" 2>&1 &
	bg_pid=$!
	started+=("$bg_pid")
}

# alive PID: the process runs (exited children, not yet reaped, do not).
alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# stop_bg PID: SIGTERM, up to 10 s to exit, then SIGKILL; forget PID.
stop_bg() {
	local pid=$1 i rest=() p
	for p in "${started[@]}"; do
		[ "$p" = "$pid" ] || rest+=("$p")
	done
	[ ${#rest[@]} -eq ${#started[@]} ] && return 0 # not ours, or already stopped
	started=("${rest[@]}")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		log "bench: pid $pid did not stop on SIGTERM within 10 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	set +e
	local pid
	for pid in "${started[@]}"; do
		stop_bg "$pid"
	done
	[ -z "${work:-}" ] || rm -rf "$work"
}

# free_port: a loopback TCP port nothing listened on a moment ago.
free_port() {
	local p
	for p in $(shuf -i 20000-60999 -n 64); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found on 127.0.0.1"
}

# rss_bytes PID: the resident set of PID.
rss_bytes() {
	awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# build_tool NAME: build bench/NAME once into $work/NAME.
build_tool() {
	[ -x "$work/$1" ] || go build -o "$work/$1" "./bench/$1"
}

# ---- a zonesync node and a redis-server -----------------------------------

# start_node DIR: write DIR/nginx.conf (one keyval zone "bench", 64m, 1h,
# and the API with write=on on a free loopback port), start the node and
# wait until it answers. Sets node_pid and node_url (the zone's API URL).
start_node() {
	local dir=$1 port
	mkdir -p "$dir"
	port=$(free_port)
	cat >"$dir/nginx.conf" <<-CONF
		error_log $dir/error.log notice;
		pid $dir/zonesync.pid;
		events {}
		http {
		    access_log off;
		    keyval_zone zone=bench:64m timeout=1h;
		    server {
		        listen 127.0.0.1:$port;
		        location /api/ { api write=on; }
		    }
		}
	CONF
	start_bg "$dir/stderr.log" "$zonesync" -p "$dir/" -c "$dir/nginx.conf"
	node_pid=$bg_pid
	node_url=http://127.0.0.1:$port/api/9/http/keyvals/bench
	if ! "$work/apiload" -url "$node_url" -wait 10s || ! alive "$node_pid"; then
		cat "$dir/stderr.log" "$dir/error.log" >&2 2>/dev/null
		die "the zonesync node did not start"
	fi
}

# start_redis DIR: start redis-server on a free loopback port without
# persistence and wait until it answers PING. Sets redis_pid and redis_port.
start_redis() {
	local dir=$1 i
	mkdir -p "$dir"
	redis_port=$(free_port)
	start_bg "$dir/redis.log" redis-server --port "$redis_port" --bind 127.0.0.1 \
		--save '' --appendonly no --dir "$dir" --daemonize no
	redis_pid=$bg_pid
	for ((i = 0; i < 100; i++)); do
		[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return
		alive "$redis_pid" || break
		sleep 0.1
	done
	cat "$dir/redis.log" >&2
	die "redis-server did not start"
}

# redis_info FIELD: one field of INFO from the running redis-server.
redis_info() {
	redis-cli -p "$redis_port" info | tr -d '\r' | awk -F: -v f="$1" '$1 == f { print $2 }'
}

need_redis() {
	need redis-server redis-server
	need redis-benchmark redis-tools
	need redis-cli redis-tools
}

# ---- api --------------------------------------------------------------------

# api_zonesync_run OUT_PREFIX: one run of the three API tests on a fresh
# node; appends "rps p50_ms p99_ms server_us_per_req client_cpu_s" to
# OUT_PREFIX.zs.post, .zs.patch and .zs.get.
api_zonesync_run() {
	local out=$1 op line t0 t1 ticks
	ticks=$(getconf CLK_TCK)
	start_node "$work/api/node"
	for op in post patch get; do
		t0=$(cpu_ticks "$node_pid")
		if ! line=$("$work/apiload" -url "$node_url" -op "$op" \
			-n "$API_REQUESTS" -c "$API_CONNS" -keys "$API_REQUESTS" -timeout 5m); then
			printf '%s\n' "$line" >&2
			die "apiload -op $op failed"
		fi
		t1=$(cpu_ticks "$node_pid")
		awk -v l="$line" -v t0="$t0" -v t1="$t1" -v hz="$ticks" 'BEGIN {
			n = split(l, f, " "); for (i = 1; i <= n; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
			printf "%s %s %s %.1f %s\n", v["rps"], v["p50_ms"], v["p99_ms"],
				(t1 - t0) / hz / v["requests"] * 1e6, v["client_cpu_s"]
		}' >>"$out.zs.$op"
	done
	stop_bg "$node_pid"
}

# api_redis_run OUT_PREFIX: one run of redis-benchmark's SET and GET on a
# fresh redis-server; appends the same columns to OUT_PREFIX.redis.set and
# .redis.get.
api_redis_run() {
	local out=$1 t ticks t0 t1 csv
	ticks=$(getconf CLK_TCK)
	start_redis "$work/api/redis"
	for t in set get; do
		t0=$(cpu_ticks "$redis_pid")
		if ! csv=$(timeout --foreground 600 /usr/bin/time -f '%U %S' -o "$work/api/rb.time" \
			redis-benchmark -p "$redis_port" -t "$t" -n "$API_REQUESTS" -c "$API_CONNS" \
			-d 32 -r 100000 -P 1 --csv 2>&1); then
			printf '%s\n' "$csv" >&2
			die "redis-benchmark -t $t failed"
		fi
		t1=$(cpu_ticks "$redis_pid")
		# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
		awk -F'","' -v t0="$t0" -v t1="$t1" -v hz="$ticks" -v n="$API_REQUESTS" \
			-v cpu="$(awk '{ print $1 + $2 }' "$work/api/rb.time")" '
			$1 ~ /^"(SET|GET)$/ { printf "%s %s %s %.1f %.2f\n", $2, $5, $7, (t1 - t0) / hz / n * 1e6, cpu; found = 1 }
			END { exit !found }' <<<"$csv" >>"$out.redis.$t" || { printf '%s\n' "$csv" >&2; die "no $t line in redis-benchmark's CSV"; }
	done
	stop_bg "$redis_pid"
}

# api_row NAME FILE [ANCHOR_FILE ANCHOR_NAME]: one line of the api table,
# medians over the runs, with the req/s ratio to the anchor.
api_row() {
	local name=$1 f=$2 ratio=''
	if [ $# -ge 4 ]; then
		ratio=$(awk -v a="$(median "$f" 1)" -v b="$(median "$3" 1)" -v n="$4" \
			'BEGIN { printf "%.2fx %s", a / b, n }')
	fi
	printf '%-26s %10.0f %8.3f %8.3f %13.1f %10.2f   %s\n' "$name" \
		"$(median "$f" 1)" "$(median "$f" 2)" "$(median "$f" 3)" "$(median "$f" 4)" "$(median "$f" 5)" "$ratio"
}

# section_api: the NGINX Plus API of a running node (POST, PATCH, GET ?key=)
# against redis-benchmark's SET and GET, requests per second.
section_api() {
	need_redis
	need timeout coreutils
	build_tool apiload
	mkdir -p "$work/api"
	local out=$work/api/res r
	rm -f "$out".*
	for ((r = 1; r <= API_RUNS; r++)); do
		log "api: run $r of $API_RUNS"
		api_zonesync_run "$out"
		api_redis_run "$out"
	done

	printf '\n== api: %d requests per test, %d keep-alive connections, 32-byte values, keys of 32 bytes (redis-benchmark: 16), median of %d run(s), %s\n' \
		"$API_REQUESTS" "$API_CONNS" "$API_RUNS" "$(redis-server --version | awk '{ print $1, $3 }')"
	printf '%-26s %10s %8s %8s %13s %10s   %s\n' test 'req/s' 'p50 ms' 'p99 ms' 'server us/req' 'client s' 'zonesync/redis'
	api_row 'redis SET' "$out.redis.set"
	api_row 'zonesync POST (new key)' "$out.zs.post" "$out.redis.set" SET
	api_row 'zonesync PATCH' "$out.zs.patch" "$out.redis.set" SET
	api_row 'redis GET' "$out.redis.get"
	api_row 'zonesync GET ?key=' "$out.zs.get" "$out.redis.get" GET
	printf 'goal: zonesync at least 0.50x of redis req/s. Both servers and their clients share %s cores.\n' "$(nproc)"
}

# ---- memory -----------------------------------------------------------------

# section_memory: bytes per stored record (32-byte key, 32-byte value, with a
# timeout) in a running node and in redis-server.
section_memory() {
	need_redis
	need timeout coreutils
	build_tool apiload
	build_tool memrecord
	local dir=$work/memory n=$MEM_RECORDS warm=1000
	mkdir -p "$dir"

	# zonesync: a node, warmed up with $warm records over every connection,
	# then N records through the API; the growth of its resident set.
	start_node "$dir/node"
	"$work/apiload" -url "$node_url" -op post -n "$warm" -c "$API_CONNS" -prefix w >/dev/null ||
		die "apiload warm-up failed"
	local node_rss0 node_rss1
	node_rss0=$(rss_bytes "$node_pid")
	"$work/apiload" -url "$node_url" -op post -n "$n" -c "$API_CONNS" -prefix m >/dev/null ||
		die "apiload could not store $n records"
	node_rss1=$(rss_bytes "$node_pid")
	stop_bg "$node_pid"

	# redis: the same warm-up and the same N records as SET k v EX 3600.
	start_redis "$dir/redis"
	local reply
	reply=$("$work/memrecord" resp -n "$warm" -prefix w | timeout --foreground 600 redis-cli -p "$redis_port" --pipe 2>&1)
	grep -q 'errors: 0,' <<<"$reply" || die "redis-cli --pipe (warm-up): $reply"
	local used0 used1 rrss0 rrss1 keys expires
	used0=$(redis_info used_memory)
	rrss0=$(redis_info used_memory_rss)
	reply=$("$work/memrecord" resp -n "$n" -prefix m | timeout --foreground 600 redis-cli -p "$redis_port" --pipe 2>&1)
	grep -q "errors: 0, replies: $n\$" <<<"$reply" || die "redis-cli --pipe: $reply"
	used1=$(redis_info used_memory)
	rrss1=$(redis_info used_memory_rss)
	keys=$(redis-cli -p "$redis_port" dbsize)
	expires=$(redis_info db0 | sed 's/.*expires=\([0-9]*\).*/\1/')
	if [ "$keys" != $((n + warm)) ] || [ "$expires" != "$keys" ]; then
		die "redis holds $keys keys, $expires with an expiry; want $((n + warm)) of both"
	fi
	stop_bg "$redis_pid"

	# runtime/zone alone, in a process of its own, after GC.
	local store
	store=$(timeout --foreground 600 "$work/memrecord" zone -n "$n" -size 64m -timeout 1h) ||
		die "memrecord zone failed"

	local per_node per_used per_rrss
	per_node=$(awk -v a="$node_rss0" -v b="$node_rss1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
	per_used=$(awk -v a="$used0" -v b="$used1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
	per_rrss=$(awk -v a="$rrss0" -v b="$rrss1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
	local per_store per_size capacity
	per_store=$(tr ' ' '\n' <<<"$store" | awk -F= '$1 == "rss_per_record" { print $2 }')
	per_size=$(tr ' ' '\n' <<<"$store" | awk -F= '$1 == "size_per_record" { print $2 }')
	capacity=$(tr ' ' '\n' <<<"$store" | awk -F= '$1 == "capacity" { print $2 }')

	printf '\n== memory: %d records of a 32-byte key and a 32-byte value with a timeout, after %d warm-up records\n' "$n" "$warm"
	printf '%-44s %14s   %s\n' measure 'bytes/record' 'zonesync/redis used_memory'
	mem_row() { printf '%-44s %14.1f   %s\n' "$1" "$2" "${3:-}"; }
	mem_ratio() { awk -v a="$1" -v b="$per_used" 'BEGIN { printf "%.2fx", a / b }'; }
	mem_row 'redis used_memory growth (SET k v EX 3600)' "$per_used"
	mem_row 'redis used_memory_rss growth' "$per_rrss"
	mem_row 'zonesync node VmRSS growth (API POST)' "$per_node" "$(mem_ratio "$per_node")"
	mem_row 'zonesync zone store alone, after GC' "$per_store" "$(mem_ratio "$per_store")"
	mem_row "zonesync 64m zone / its capacity ($capacity)" "$per_size" "$(mem_ratio "$per_size")"
	awk -v a="$node_rss0" -v b="$node_rss1" -v u0="$used0" -v u1="$used1" 'BEGIN {
		printf "zonesync node VmRSS %.1f -> %.1f MiB (zone declared 64 MiB); redis used_memory %.1f -> %.1f MiB\n",
			a / 1048576, b / 1048576, u0 / 1048576, u1 / 1048576 }'
	printf 'goal: zonesync node at most 0.50x of redis used_memory per record.\n'
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
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

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
	printf 'load average at the start: %s (other work on the machine skews every figure)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

	for s in "${run[@]}"; do
		"section_$s"
	done
}

# The zone_sync replication section lives in its own file.
# shellcheck source=bench/sync.sh
source bench/sync.sh
# The reverse proxy section too (it takes sync_ports from sync.sh).
# shellcheck source=bench/proxy.sh
source bench/proxy.sh
# shellcheck source=bench/limitreq.sh
source bench/limitreq.sh

main "$@"
