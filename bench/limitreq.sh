# shellcheck shell=bash
# bench/limitreq.sh: the limitreq section of bench/run.sh, which sources
# this file.
#
# section_limitreq measures how closely a synchronized limit_req holds on a
# three-node zonesync cluster (issue 5): one client sends 10·r requests per
# second for LIMIT_SECONDS, spread evenly over the nodes, all with the same
# key, and the cluster should accept r·T + burst. The figure is the ratio
# accepted ÷ (r·T + burst), at zone_sync_interval 100ms (goal: at most
# 1.10) and 1s. Its anchor, in the same run: Debian's nginx alone, one
# node with the same limit under the same load, which is what the cluster
# should behave like. bench/limitacc sends and counts.
#
# Settings (environment):
#   LIMIT_RATE=100     r, requests per second
#   LIMIT_BURST=10     burst=
#   LIMIT_SECONDS=30   T
#
# Helpers it takes from run.sh: log, die, need, start_bg, stop_bg, alive,
# build_tool, and $work and $zonesync; from sync.sh: sync_ports; from
# proxy.sh: proxy_temp_paths.

LIMIT_RATE=${LIMIT_RATE:-100}
LIMIT_BURST=${LIMIT_BURST:-10}
LIMIT_SECONDS=${LIMIT_SECONDS:-30}

# limit_location SITE: the limited location every node and nginx serve.
limit_location() {
	printf 'location / { limit_req zone=acc burst=%s nodelay; root %s; }' "$LIMIT_BURST" "$1"
}

# limit_nginx DIR PORT SITE: nginx alone with the limit.
limit_nginx() {
	local dir=$1
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<-CONF
		worker_processes 1;
		error_log $dir/error.log notice;
		pid $dir/nginx.pid;
		events {}
		http {
		    access_log off;
		$(proxy_temp_paths "$dir")
		    limit_req_zone \$binary_remote_addr zone=acc:1m rate=${LIMIT_RATE}r/s;
		    server {
		        listen 127.0.0.1:$2;
		        $(limit_location "$3")
		    }
		}
	CONF
	start_bg "$dir/stderr.log" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
		-g 'daemon off; master_process off;'
	limit_pids=("$bg_pid")
}

# limit_cluster DIR INTERVAL SITE: three zonesync nodes joined by zone_sync
# at INTERVAL, each with the limit (synced). Sets limit_pids and
# limit_urls, and waits until every node has both peers online.
limit_cluster() {
	local dir=$1 i http api sync
	sync_ports 9
	limit_pids=()
	limit_urls=()
	for i in 0 1 2; do
		http=${sync_free[i]} api=${sync_free[i + 3]} sync=${sync_free[i + 6]}
		mkdir -p "$dir/n$i"
		cat >"$dir/n$i/nginx.conf" <<-CONF
			error_log $dir/n$i/error.log notice;
			pid $dir/n$i/zonesync.pid;
			events {}
			http {
			    access_log off;
			    limit_req_zone \$binary_remote_addr zone=acc:1m rate=${LIMIT_RATE}r/s sync;
			    server {
			        listen 127.0.0.1:$http;
			        $(limit_location "$3")
			    }
			    server { listen 127.0.0.1:$api; location /api/ { api; } }
			}
			stream {
			    server {
			        listen 127.0.0.1:$sync;
			        zone_sync;
			        zone_sync_interval $2;
			        zone_sync_connect_retry_interval 100ms;
			        zone_sync_server 127.0.0.1:${sync_free[6]};
			        zone_sync_server 127.0.0.1:${sync_free[7]};
			        zone_sync_server 127.0.0.1:${sync_free[8]};
			    }
			}
		CONF
		start_bg "$dir/n$i/stderr.log" "$zonesync" -p "$dir/n$i/" -c "$dir/n$i/nginx.conf"
		limit_pids+=("$bg_pid")
		limit_urls+=("http://127.0.0.1:$http/")
	done
	for i in 0 1 2; do
		if ! "$work/syncbench" ready -kind zonesync -zone acc -a "http://127.0.0.1:${sync_free[i + 3]}/api/9" -online 2 \
			-pid "${limit_pids[i]}" -timeout 20s >/dev/null; then
			cat "$dir/n$i/stderr.log" "$dir/n$i/error.log" >&2 2>/dev/null
			die "limitreq: node $i did not see both peers"
		fi
	done
}

# limit_run NAME URLS FROM: load URLS (comma-separated) with limitacc from
# source address FROM; prints one table row and keeps the ratio in
# limit_ratio.
limit_run() {
	local out
	if ! out=$("$work/limitacc" -nodes "$2" -rate "${LIMIT_RATE}r/s" -burst "$LIMIT_BURST" -factor 10 \
		-duration "${LIMIT_SECONDS}s" -from "$3" 2>&1); then
		printf '%s\n' "$out" >&2
		die "limitacc against $2 failed"
	fi
	limit_ratio=$(sed -n '1s/.*ratio accepted\/[^=]*= //p' <<<"$out")
	awk -v name="$1" -v anchor="${limit_anchor:-}" -v r="$limit_ratio" 'NR == 1 {
		accepted = $2; sent = $4; limit = $9; sub(/;$/, "", limit)
		printf "%-34s %9s %9s %10s %7.3f", name, accepted, sent, limit, r
		if (anchor != "") printf " %9.2fx", r / anchor
		printf "\n"
	}' <<<"$out"
}

# section_limitreq: accepted ÷ (r·T + burst) on three synced nodes at
# zone_sync_interval 100ms and 1s, beside nginx alone.
section_limitreq() {
	need nginx nginx-core
	build_tool limitacc
	build_tool syncbench
	local dir=$work/limitreq site pid port
	rm -rf "$dir"
	mkdir -p "$dir/site"
	echo ok >"$dir/site/index.html"

	printf '\n== limitreq: one client at 10 x %sr/s (burst=%s nodelay) for %ss, spread over the nodes; limit = r*T + burst\n' \
		"$LIMIT_RATE" "$LIMIT_BURST" "$LIMIT_SECONDS"
	printf '%-34s %9s %9s %10s %7s %10s\n' setup accepted sent limit ratio 'vs nginx'
	sync_ports 1
	port=${sync_free[0]}
	limit_nginx "$dir/nginx" "$port" "$dir/site"
	limit_anchor=
	limit_run 'nginx alone (anchor)' "http://127.0.0.1:$port/" 127.0.0.41
	limit_anchor=$limit_ratio
	for pid in "${limit_pids[@]}"; do stop_bg "$pid"; done

	local interval n=42
	for interval in 100ms 1s; do
		limit_cluster "$dir/cluster-$interval" "$interval" "$dir/site"
		limit_run "zonesync, 3 nodes, interval $interval" "$(
			IFS=,
			echo "${limit_urls[*]}"
		)" "127.0.0.$n"
		n=$((n + 1))
		for pid in "${limit_pids[@]}"; do stop_bg "$pid"; done
	done
	printf 'goal: ratio at most 1.10 at zone_sync_interval 100ms. NGINX Plus promises the limit only "on average".\n'
}
