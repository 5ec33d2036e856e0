# bench/sync.sh: the sync section of bench/run.sh, which sources this file.
#
# section_sync measures replication between two zonesync nodes over
# zone_sync (A -> B, real processes on 127.0.0.1) against Redis's
# primary -> replica replication, in the same run, with the same records:
# 32-byte keys, 32-byte values, each with a lifetime of SYNC_EXPIRE seconds.
#
#   steady    records per second from the first write on A until B holds
#             them all (zone_sync_interval 100ms)
#   snapshot  seconds from the start of a fresh node (replica) until it holds
#             every record of the node (primary) it joins
#   delay     p50 and p99 from one write on A until it can be read on B, at
#             zone_sync_interval 1s and 0
#   cost      bytes on the wire and CPU seconds per record replicated, over
#             the steady runs
#
# bench/syncbench does the writing, polling and timing; bench/README.md says
# how each figure is taken and which goal it is read against.
#
# Settings (environment):
#   SYNC_RECORDS=200000    steady: records written
#   SYNC_SNAPSHOT=1000000  snapshot: records held by the node that is joined
#   SYNC_PROBES=200        delay: single writes per test
#   SYNC_PROBE_CONNS=8     delay at zone_sync_interval 1s: probes at a time
#   SYNC_CONNS=4           steady: writing connections
#   SYNC_PIPELINE=100      steady: writes sent at once on a connection
#   SYNC_BUFFERS='256 64k' zone_sync_buffers of the steady and snapshot nodes
#   SYNC_EXPIRE=60         record lifetime, seconds
#
# Helpers it takes from run.sh: log, die, need, start_bg, stop_bg,
# build_tool, and $work and $zonesync.

# sync_ports N: set sync_free to N distinct loopback ports nothing listened
# on a moment ago. They are taken below the kernel's range of ephemeral
# ports, so that no client socket of the run holds one when a server binds it.
sync_ports() {
	local low p
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	[ "$low" -gt 11000 ] || die "the ephemeral port range starts at $low: no room below it"
	sync_free=()
	for p in $(shuf -i 10000-$((low - 1)) -n 256); do # distinct numbers
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		sync_free+=("$p")
		[ ${#sync_free[@]} -lt "$1" ] || return 0
	done
	die "found only ${#sync_free[@]} of $1 free ports on 127.0.0.1"
}

# sync_conf DIR API_PORT SYNC_PORT PEER_SYNC_PORT INTERVAL BUFFERS: write
# DIR/nginx.conf, one node of a two-node cluster.
sync_conf() {
	local dir=$1
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<-CONF
		error_log $dir/error.log notice;
		pid $dir/zonesync.pid;
		events {}
		http {
		    access_log off;
		    keyval_zone zone=bench:${sync_zone_mb}m timeout=1h sync;
		    server {
		        listen 127.0.0.1:$2;
		        # room for one POST of every record (syncbench -bulk)
		        client_max_body_size ${sync_body_mb}m;
		        client_body_buffer_size ${sync_body_mb}m;
		        location /api/ { api write=on; }
		    }
		}
		stream {
		    server {
		        listen 127.0.0.1:$3;
		        zone_sync;
		        zone_sync_interval $5;
		        zone_sync_buffers $6;
		        zone_sync_connect_retry_interval 100ms;
		        zone_sync_server 127.0.0.1:$3;
		        zone_sync_server 127.0.0.1:$4;
		    }
		}
	CONF
}

# sync_launch DIR: start the node configured in DIR; sets sync_pid.
sync_launch() {
	start_bg "$1/stderr.log" "$zonesync" -p "$1/" -c "$1/nginx.conf"
	sync_pid=$bg_pid
}

# sync_ready DIR PID URL [SYNCBENCH READY FLAGS]: wait until the node in
# DIR answers at URL as the flags ask; shows its logs when it does not.
sync_ready() {
	local dir=$1 pid=$2 url=$3
	shift 3
	if ! "$work/syncbench" ready -a "$url" -pid "$pid" -timeout 20s "$@" >/dev/null; then
		cat "$dir/stderr.log" "$dir/error.log" >&2 2>/dev/null
		die "the zonesync node in $dir is not ready"
	fi
}

# sync_pair DIR INTERVAL BUFFERS: start nodes A and B, joined by zone_sync,
# and wait until each has the other online. Sets sync_a_pid, sync_b_pid,
# sync_a (A's API URL) and sync_b (B's).
sync_pair() {
	local dir=$1 ports
	sync_ports 4
	ports=("${sync_free[@]}")
	sync_conf "$dir/a" "${ports[0]}" "${ports[2]}" "${ports[3]}" "$2" "$3"
	sync_conf "$dir/b" "${ports[1]}" "${ports[3]}" "${ports[2]}" "$2" "$3"
	sync_a=http://127.0.0.1:${ports[0]}/api/9
	sync_b=http://127.0.0.1:${ports[1]}/api/9
	sync_launch "$dir/a"
	sync_a_pid=$sync_pid
	sync_launch "$dir/b"
	sync_b_pid=$sync_pid
	sync_ready "$dir/a" "$sync_a_pid" "$sync_a" -online 1
	sync_ready "$dir/b" "$sync_b_pid" "$sync_b" -online 1
}

# sync_redis DIR [PRIMARY_PORT]: start redis-server without persistence, a
# replica of PRIMARY_PORT when given; does not wait. Sets sync_pid and
# sync_port. repl-diskless-sync-delay 0: a primary starts a full sync at
# once instead of waiting 5 s (the default) for more replicas to join it.
sync_redis() {
	local dir=$1 replica=()
	mkdir -p "$dir"
	sync_ports 1
	sync_port=${sync_free[0]}
	[ -z "${2:-}" ] || replica=(--replicaof 127.0.0.1 "$2")
	start_bg "$dir/redis.log" redis-server --port "$sync_port" --bind 127.0.0.1 \
		--save '' --appendonly no --dir "$dir" --daemonize no \
		--repl-diskless-sync-delay 0 "${replica[@]}"
	sync_pid=$bg_pid
}

# sync_redis_ready DIR PID PORT [SYNCBENCH READY FLAGS]
sync_redis_ready() {
	local dir=$1 pid=$2 port=$3
	shift 3
	if ! "$work/syncbench" ready -kind redis -a "127.0.0.1:$port" -pid "$pid" -timeout 60s "$@" >/dev/null; then
		cat "$dir/redis.log" >&2
		die "redis-server in $dir is not ready"
	fi
}

# sync_redis_pair DIR: a primary and its replica, synced. Sets
# sync_a_pid, sync_b_pid, sync_a and sync_b (HOST:PORT).
sync_redis_pair() {
	local dir=$1
	sync_redis "$dir/primary"
	sync_a_pid=$sync_pid
	sync_a=127.0.0.1:$sync_port
	sync_redis_ready "$dir/primary" "$sync_a_pid" "$sync_port"
	sync_redis "$dir/replica" "$sync_port"
	sync_b_pid=$sync_pid
	sync_b=127.0.0.1:$sync_port
	sync_redis_ready "$dir/replica" "$sync_b_pid" "$sync_port" -linked
}

sync_stop_pair() {
	stop_bg "$sync_a_pid"
	stop_bg "$sync_b_pid"
}

# sync_run WHAT SYNCBENCH ARGS...: run syncbench, print its line; dies
# with WHAT when it fails.
sync_run() {
	local what=$1 line
	shift
	line=$("$work/syncbench" "$@") || die "syncbench failed: $what"
	log "sync: $what: $line"
	printf '%s\n' "$line"
}

# sync_get LINE FIELD: one name=value field of a syncbench line.
sync_get() {
	tr ' ' '\n' <<<"$1" | awk -F= -v f="$2" '$1 == f { print $2; found = 1 } END { exit !found }' ||
		die "no field $2 in: $1"
}

# sync_row MEASURE ZONESYNC REDIS [GOAL]: one line of the table, with the
# ratio zonesync/redis.
sync_row() {
	awk -v m="$1" -v z="$2" -v r="$3" -v g="${4:-}" 'BEGIN {
		ratio = (r != "" && r + 0 > 0) ? sprintf("%.2fx", z / r) : ""
		printf "%-52s %12s %12s %9s   %s\n", m, z, r, ratio, g
	}'
}

# sync_goal OK TEXT: "TEXT: met" or "TEXT: NOT met", OK being an awk
# condition.
sync_goal() {
	if awk "BEGIN { exit !($1) }"; then echo "$2: met"; else echo "$2: NOT met"; fi
}

# section_sync: zone_sync between two nodes against Redis replication.
section_sync() {
	local records=${SYNC_RECORDS:-200000} snapshot=${SYNC_SNAPSHOT:-1000000}
	local probes=${SYNC_PROBES:-200} probe_conns=${SYNC_PROBE_CONNS:-8}
	local conns=${SYNC_CONNS:-4} pipeline=${SYNC_PIPELINE:-100}
	local buffers=${SYNC_BUFFERS:-256 64k} expire=${SYNC_EXPIRE:-60}
	need redis-server redis-server
	need getconf libc-bin
	build_tool syncbench

	local dir=$work/sync hz small=$((records / 10))
	[ "$small" -ge 1 ] || small=1
	mkdir -p "$dir"
	hz=$(getconf CLK_TCK)
	# A 1m zone holds 8928 pairs of this size (runtime/zone/README.md); one
	# POST of every record takes about 100 bytes a record.
	sync_zone_mb=$((snapshot / 8000 + 16))
	[ "$sync_zone_mb" -ge 256 ] || sync_zone_mb=256
	sync_body_mb=$((snapshot / 8000 + 16))
	[ "$sync_body_mb" -ge 64 ] || sync_body_mb=64
	local rec=(-expire "${expire}s" -timeout "${expire}s" -poll 5ms)
	local write=(-c "$conns" -pipeline "$pipeline")

	# ---- steady: N records written to A, until B holds them all.
	local zs_post zs_bulk zs_small rd_steady
	log "sync: steady, zonesync, one pair per POST"
	sync_pair "$dir/steady-post" 100ms "$buffers"
	zs_post=$(sync_run "steady, zonesync, one pair per POST" steady -kind zonesync \
		-a "$sync_a" -b "$sync_b" -n "$records" "${write[@]}" "${rec[@]}" \
		-pids "$sync_a_pid,$sync_b_pid" -hz "$hz")
	sync_stop_pair
	log "sync: steady, zonesync, every pair in one POST"
	sync_pair "$dir/steady-bulk" 100ms "$buffers"
	zs_bulk=$(sync_run "steady, zonesync, one POST" steady -kind zonesync -bulk \
		-a "$sync_a" -b "$sync_b" -n "$records" "${rec[@]}" \
		-pids "$sync_a_pid,$sync_b_pid" -hz "$hz")
	sync_stop_pair
	log "sync: steady, zonesync, nginx's default zone_sync_buffers"
	sync_pair "$dir/steady-default" 100ms "8 4k"
	zs_small=$(sync_run "steady, zonesync, zone_sync_buffers 8 4k" steady -kind zonesync \
		-a "$sync_a" -b "$sync_b" -n "$small" "${write[@]}" "${rec[@]}" \
		-pids "$sync_a_pid,$sync_b_pid" -hz "$hz")
	sync_stop_pair
	log "sync: steady, redis"
	sync_redis_pair "$dir/steady-redis"
	rd_steady=$(sync_run "steady, redis" steady -kind redis \
		-a "$sync_a" -b "$sync_b" -n "$records" "${write[@]}" "${rec[@]}" \
		-pids "$sync_a_pid,$sync_b_pid" -hz "$hz")
	sync_stop_pair

	# ---- snapshot: a fresh node joins one that holds SNAPSHOT records.
	local zs_load zs_snap rd_load rd_snap ports t0 sdir=$dir/snapshot
	log "sync: snapshot, zonesync"
	sync_ports 4
	ports=("${sync_free[@]}")
	sync_conf "$sdir/a" "${ports[0]}" "${ports[2]}" "${ports[3]}" 100ms "$buffers"
	sync_conf "$sdir/b" "${ports[1]}" "${ports[3]}" "${ports[2]}" 100ms "$buffers"
	sync_launch "$sdir/a"
	sync_a_pid=$sync_pid
	sync_ready "$sdir/a" "$sync_a_pid" "http://127.0.0.1:${ports[0]}/api/9"
	zs_load=$(sync_run "snapshot, zonesync, loading A" load -kind zonesync -bulk \
		-a "http://127.0.0.1:${ports[0]}/api/9" -n "$snapshot" -prefix n "${rec[@]}")
	t0=$(date +%s%N)
	sync_launch "$sdir/b"
	sync_b_pid=$sync_pid
	zs_snap=$(sync_run "snapshot, zonesync, B joining" wait -kind zonesync \
		-b "http://127.0.0.1:${ports[1]}/api/9" -n "$snapshot" -since "$t0" "${rec[@]}" \
		-pids "$sync_a_pid,$sync_b_pid" -hz "$hz")
	sync_stop_pair
	log "sync: snapshot, redis"
	sync_redis "$sdir/primary"
	sync_a_pid=$sync_pid
	sync_redis_ready "$sdir/primary" "$sync_a_pid" "$sync_port"
	rd_load=$(sync_run "snapshot, redis, loading the primary" load -kind redis \
		-a "127.0.0.1:$sync_port" -n "$snapshot" -prefix n "${write[@]}" "${rec[@]}")
	t0=$(date +%s%N)
	sync_redis "$sdir/replica" "$sync_port"
	sync_b_pid=$sync_pid
	rd_snap=$(sync_run "snapshot, redis, the replica's full sync" wait -kind redis \
		-b "127.0.0.1:$sync_port" -n "$snapshot" -since "$t0" "${rec[@]}" \
		-pids "$sync_a_pid,$sync_b_pid" -hz "$hz")
	sync_stop_pair

	# ---- delay: single writes on A, each read on B until it is there.
	local zs_d1 zs_d0 rd_d delay=(-n "$probes" -prefix d -expire "${expire}s" -timeout 5m)
	log "sync: delay, zonesync, zone_sync_interval 1s"
	sync_pair "$dir/delay-1s" 1s "$buffers"
	zs_d1=$(sync_run "delay, zonesync, interval 1s" delay -kind zonesync \
		-a "$sync_a" -b "$sync_b" -c "$probe_conns" -phase 1s "${delay[@]}")
	sync_stop_pair
	log "sync: delay, zonesync, zone_sync_interval 0"
	sync_pair "$dir/delay-0" 0 "$buffers"
	zs_d0=$(sync_run "delay, zonesync, interval 0" delay -kind zonesync \
		-a "$sync_a" -b "$sync_b" -c 1 -phase 10ms "${delay[@]}")
	sync_stop_pair
	log "sync: delay, redis"
	sync_redis_pair "$dir/delay-redis"
	rd_d=$(sync_run "delay, redis" delay -kind redis \
		-a "$sync_a" -b "$sync_b" -c 1 -phase 10ms "${delay[@]}")
	sync_stop_pair

	# ---- the table.
	local v r
	printf '\n== sync: node A -> node B over zone_sync (interval 100ms, zone_sync_buffers %s) against %s primary -> replica; 32-byte keys and values, %s s lifetime\n' \
		"$buffers" "$(redis-server --version | awk '{ print $1, $3 }')" "$expire"
	printf '%-52s %12s %12s %9s   %s\n' measure zonesync redis zs/redis goal
	v=$(sync_get "$zs_post" rate)
	r=$(sync_get "$rd_steady" rate)
	sync_row "steady $records, records/s, one pair per POST" "$v" "$r" \
		"$(sync_goal "$v >= 2 * $r" '>= 2.00x')"
	v=$(sync_get "$zs_bulk" rate)
	sync_row "steady $records, records/s, all in one POST" "$v" "$r" \
		"$(sync_goal "$v >= 2 * $r" '>= 2.00x')"
	sync_row "  writes alone, records/s, one pair per POST" "$(sync_get "$zs_post" write_rate)" "$(sync_get "$rd_steady" write_rate)"
	sync_row "  writes alone, records/s, all in one POST" "$(sync_get "$zs_bulk" write_rate)" "$(sync_get "$rd_steady" write_rate)"
	sync_row "  B behind the last write, ms, one pair per POST" "$(sync_get "$zs_post" lag_ms)" "$(sync_get "$rd_steady" lag_ms)"
	sync_row "  B behind the last write, ms, all in one POST" "$(sync_get "$zs_bulk" lag_ms)" "$(sync_get "$rd_steady" lag_ms)"
	sync_row "steady $small, records/s, zone_sync_buffers 8 4k" "$(sync_get "$zs_small" rate)" "$r"
	v=$(sync_get "$zs_snap" seconds)
	r=$(sync_get "$rd_snap" seconds)
	sync_row "snapshot of $snapshot records, s" "$v" "$r"
	v=$(sync_get "$zs_snap" rate)
	sync_row "snapshot of $snapshot records, records/s" "$v" "$(sync_get "$rd_snap" rate)" \
		"$(sync_goal "$v >= 1000000" '>= 1000000/s')"
	sync_row "  CPU s per million records, A+B" "$(sync_get "$zs_snap" cpu_per_million_s)" "$(sync_get "$rd_snap" cpu_per_million_s)"
	sync_row "  CPU s per million records, B alone" "$(sync_get "$zs_snap" cpu_b_per_million_s)" "$(sync_get "$rd_snap" cpu_b_per_million_s)"
	r=$(sync_get "$rd_d" p99_ms)
	sync_row "delay, interval 1s, p50 ms" "$(sync_get "$zs_d1" p50_ms)" "$(sync_get "$rd_d" p50_ms)"
	v=$(sync_get "$zs_d1" p99_ms)
	sync_row "delay, interval 1s, p99 ms" "$v" "$r" "$(sync_goal "$v <= 1005" '<= 1005 ms')"
	sync_row "delay, interval 0, p50 ms" "$(sync_get "$zs_d0" p50_ms)" "$(sync_get "$rd_d" p50_ms)"
	v=$(sync_get "$zs_d0" p99_ms)
	sync_row "delay, interval 0, p99 ms" "$v" "$r" "$(sync_goal "$v <= $r" '<= redis p99')"
	sync_row "bytes on the wire per record" "$(sync_get "$zs_post" bytes_per_record)" "$(sync_get "$rd_steady" bytes_per_record)"
	r=$(sync_get "$rd_steady" cpu_per_million_s)
	sync_row "CPU s per million records, A+B, one pair per POST" "$(sync_get "$zs_post" cpu_per_million_s)" "$r"
	sync_row "CPU s per million records, A+B, all in one POST" "$(sync_get "$zs_bulk" cpu_per_million_s)" "$r"
	r=$(sync_get "$rd_steady" cpu_b_per_million_s)
	sync_row "CPU s per million records, B alone, one pair per POST" "$(sync_get "$zs_post" cpu_b_per_million_s)" "$r"
	sync_row "CPU s per million records, B alone, all in one POST" "$(sync_get "$zs_bulk" cpu_b_per_million_s)" "$r"
	printf 'writes: zonesync POST {"KEY":{"value":"VALUE","expire":%d000}} on %d keep-alive connections, %d requests pipelined on each\n' \
		"$expire" "$conns" "$pipeline"
	printf '        (or every pair in one POST into the empty zone); redis SET KEY VALUE EX %d, pipelined the same way.\n' "$expire"
	printf 'steady ends when a poll of B (records_total of /stream/zone_sync/; DBSIZE), every 5 ms, sees every record;\n'
	printf '        "B behind the last write" near one interval means the writes, not the replication, set the rate.\n'
	printf 'snapshot: loading took %s s on A (one POST), %s s on the primary (pipelined SETs); timed from the start of\n' \
		"$(sync_get "$zs_load" seconds)" "$(sync_get "$rd_load" seconds)"
	printf '        the process of B / the replica (which loads the RDB from disk, redis'"'"'s default) until it holds them all.\n'
	printf 'delay: %d writes; a random pause in [0, interval) before each; B read in a tight loop; %d probes at a time at 1s,\n' \
		"$probes" "$probe_conns"
	printf '        one at a time at 0 and on redis (whose replica has no interval: its figures anchor both).\n'
	printf 'bytes: A'"'"'s bytes_out (records frames with their headers) and the primary'"'"'s master_repl_offset, over the run of\n'
	printf '        one pair per POST. CPU: utime+stime of both processes from the first write until B held every record,\n'
	printf '        the handling of the writes on A / the primary included, and of the 5 ms polls on B. %s cores.\n' "$(nproc)"
}
