# shellcheck shell=bash
# bench/proxy.sh: the proxy section of bench/run.sh, which sources this file.
#
# section_proxy measures the HTTP reverse proxy of a zonesync node against
# Debian's nginx in the same run: both proxy GET / to one backend (another
# nginx answering "ok" by itself) from the same configuration text, one
# worker each, loaded by Debian's wrk. Three variants of that text:
#
#   plain      proxy_pass to an upstream with keepalive 16
#   limit_req  the same behind a limit_req whose rate never rejects
#   sticky     the same with sticky learn in the upstream; NGINX Plus only,
#              so zonesync alone, read against zonesync's plain figure
#
# Printed: requests per second, p99 latency and the proxy's CPU time per
# request, medians of PROXY_RUNS runs, zonesync/nginx ratios, and what
# limit_req and sticky learn add to a request. bench/README.md says how.
#
# Settings (environment):
#   PROXY_SECONDS=10  wrk's duration of a measured run
#   PROXY_CONNS=50    wrk's keep-alive connections (one thread)
#   PROXY_RUNS=3      runs of every variant on each program; the median is reported
#   PROXY_WARMUP=1    seconds of untimed load on a freshly started proxy
#
# Helpers it takes from run.sh: log, die, need, median, start_bg, stop_bg,
# alive, cpu_ticks, and $work and $zonesync; from sync.sh: sync_ports.

PROXY_SECONDS=${PROXY_SECONDS:-10}
PROXY_CONNS=${PROXY_CONNS:-50}
PROXY_RUNS=${PROXY_RUNS:-3}
PROXY_WARMUP=${PROXY_WARMUP:-1}

# The cookie wrk sends and the backend sets on every answer: sticky learn
# looks the session up and stores it again on each request. Every variant
# sends and gets the same bytes.
proxy_cookie=session=bench

# proxy_temp_paths DIR: the temp paths of an http block, inside DIR (Debian
# builds them into /var/lib/nginx).
proxy_temp_paths() {
	local t
	mkdir -p "$1/tmp"
	for t in client_body proxy fastcgi uwsgi scgi; do
		printf '    %s_temp_path %s/tmp/%s;\n' "$t" "$1" "$t"
	done
}

# proxy_backend_conf DIR PORT: the backend, an nginx that answers every
# request with 200 "ok" and the session cookie.
proxy_backend_conf() {
	local dir=$1
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<-CONF
		worker_processes 1;
		error_log $dir/error.log notice;
		pid $dir/nginx.pid;
		events { worker_connections 4096; }
		http {
		    access_log off;
		$(proxy_temp_paths "$dir")
		    keepalive_requests 1000000;
		    server {
		        listen 127.0.0.1:$2;
		        location / {
		            add_header Set-Cookie "$proxy_cookie";
		            return 200 "ok\n";
		        }
		    }
		}
	CONF
}

# proxy_conf DIR PORT BACKEND_PORT VARIANT: the configuration both proxies
# run, word for word.
proxy_conf() {
	local dir=$1 zone='' limit='' sticky=''
	mkdir -p "$dir"
	case $4 in
	plain) ;;
	limit_req)
		# shellcheck disable=SC2016 # nginx variables, not the shell's
		zone='limit_req_zone $binary_remote_addr zone=bench:1m rate=1000000r/s;'
		limit='limit_req zone=bench burst=1000000 nodelay;'
		;;
	sticky)
		sticky="sticky learn create=\$upstream_cookie_${proxy_cookie%%=*} lookup=\$cookie_${proxy_cookie%%=*} zone=sessions:1m;"
		;;
	*) die "proxy: unknown variant $4" ;;
	esac
	cat >"$dir/nginx.conf" <<-CONF
		worker_processes 1;
		error_log $dir/error.log notice;
		pid $dir/proxy.pid;
		events { worker_connections 4096; }
		http {
		    access_log off;
		$(proxy_temp_paths "$dir")
		    $zone
		    upstream b {
		        server 127.0.0.1:$3;
		        $sticky
		        keepalive 16;
		    }
		    server {
		        listen 127.0.0.1:$2;
		        location / {
		            $limit
		            proxy_pass http://b;
		            proxy_http_version 1.1;
		            proxy_set_header Connection "";
		        }
		    }
		}
	CONF
}

# proxy_ok PORT: a GET / on 127.0.0.1:PORT is answered 200 within 5 s.
proxy_ok() {
	local line
	line=$(
		exec 2>/dev/null # "connection refused" while it starts
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET / HTTP/1.0\r\nHost: bench\r\nCookie: %s\r\n\r\n' "$proxy_cookie" >&3
		IFS= read -r -t 5 l <&3 && printf '%s' "$l"
	) || return 1
	case $line in "HTTP/1."?" 200 "*) return 0 ;; esac
	return 1
}

# proxy_start PROGRAM DIR PORT: start nginx or zonesync on DIR/nginx.conf
# and poll until GET / on PORT is answered 200 (for a proxy: through it,
# from the backend). Sets proxy_pid.
proxy_start() {
	local prog=$1 dir=$2 port=$3 i cmd
	case $prog in
	nginx) cmd=(nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off; master_process off;') ;;
	zonesync) cmd=("$zonesync" -p "$dir/" -c "$dir/nginx.conf") ;;
	*) die "proxy: unknown program $prog" ;;
	esac
	start_bg "$dir/stderr.log" "${cmd[@]}"
	proxy_pid=$bg_pid
	for ((i = 0; i < 100; i++)); do
		proxy_ok "$port" && return
		alive "$proxy_pid" || break
		sleep 0.1
	done
	cat "$dir/stderr.log" "$dir/error.log" >&2 2>/dev/null
	die "$prog in $dir does not answer GET / with 200 on port $port"
}

# proxy_wrk PORT SECONDS DIR: load 127.0.0.1:PORT with wrk for SECONDS and
# set proxy_out to wrk's report. Fails on any answer other than 2xx/3xx
# (limit_req must never reject), showing the logs in DIR.
proxy_wrk() {
	if ! proxy_out=$(timeout --foreground $(($2 + 60)) wrk -t1 -c"$PROXY_CONNS" -d"$2"s --latency \
		-H "Cookie: $proxy_cookie" "http://127.0.0.1:$1/" 2>&1); then
		printf '%s\n' "$proxy_out" >&2
		die "wrk against port $1 failed"
	fi
	if grep -q 'Non-2xx or 3xx responses' <<<"$proxy_out"; then
		printf '%s\n' "$proxy_out" >&2
		tail -n 20 "$3/error.log" >&2 2>/dev/null
		die "wrk against port $1 got answers other than 2xx/3xx"
	fi
	local errs
	errs=$(grep 'Socket errors' <<<"$proxy_out" || true)
	[ -z "$errs" ] || log "proxy: port $1:$errs"
}

# proxy_fields: "requests rps p99_ms" from wrk's report in proxy_out.
proxy_fields() {
	awk '
		/ requests in / { n = $1 }
		/^Requests\/sec:/ { rps = $2 }
		$1 == "99%" {
			v = $2; u = v; sub(/^[0-9.]+/, "", u); v += 0
			if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; else if (u != "ms") bad = 1
			p99 = v
		}
		END {
			if (n == "" || rps == "" || p99 == "" || bad) exit 1
			printf "%s %s %.3f\n", n, rps, p99
		}' <<<"$proxy_out" || { printf '%s\n' "$proxy_out" >&2; die "cannot read wrk's report"; }
}

# proxy_run PROGRAM VARIANT OUT: one run: a fresh proxy on the variant's
# configuration, a warm-up, one measured wrk run; appends
# "rps p99_ms proxy_cpu_us_per_request" to OUT and stops the proxy.
proxy_run() {
	local prog=$1 variant=$2 out=$3 dir port t0 t1 f
	dir=$work/proxy/$prog-$variant
	rm -rf "$dir"
	sync_ports 1
	port=${sync_free[0]}
	proxy_conf "$dir" "$port" "$proxy_backend_port" "$variant"
	proxy_start "$prog" "$dir" "$port"
	proxy_wrk "$port" "$PROXY_WARMUP" "$dir"
	t0=$(cpu_ticks "$proxy_pid")
	proxy_wrk "$port" "$PROXY_SECONDS" "$dir"
	t1=$(cpu_ticks "$proxy_pid")
	alive "$proxy_pid" || die "$prog ($variant) exited during the run"
	stop_bg "$proxy_pid"
	f=$(proxy_fields)
	awk -v f="$f" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(f, v, " ")
		printf "%s %s %.2f\n", v[2], v[3], (t1 - t0) / hz / v[1] * 1e6
	}' >>"$out"
}

# proxy_row NAME VARIANT: one line of the table; nginx's columns are "n/a"
# where nginx has no such variant.
proxy_row() {
	local zs=$work/proxy/res.zonesync.$2 ng=$work/proxy/res.nginx.$2
	local nr=-1 np=-1 nc=-1
	if [ -s "$ng" ]; then
		nr=$(median "$ng" 1)
		np=$(median "$ng" 2)
		nc=$(median "$ng" 3)
	fi
	awk -v name="$1" -v nr="$nr" -v np="$np" -v nc="$nc" \
		-v zr="$(median "$zs" 1)" -v zp="$(median "$zs" 2)" -v zc="$(median "$zs" 3)" 'BEGIN {
		if (nr < 0) {
			printf "%-14s %11s %11s %8s   %10s %10s %8s   %10s %10s %8s\n", name, "n/a", sprintf("%.0f", zr), "",
				"n/a", sprintf("%.3f", zp), "", "n/a", sprintf("%.1f", zc), ""
			exit
		}
		printf "%-14s %11.0f %11.0f %7.2fx   %10.3f %10.3f %7.2fx   %10.1f %10.1f %7.2fx\n", name,
			nr, zr, zr / nr, np, zp, zp / np, nc, zc, zc / nc
	}'
}

# proxy_extra PROGRAM VARIANT: what VARIANT adds to a request on PROGRAM,
# against its plain proxy: 1/rps_variant - 1/rps_plain in microseconds,
# the proxy's CPU per request, and the throughput ratio.
proxy_extra() {
	local base=$work/proxy/res.$1.plain f=$work/proxy/res.$1.$2
	awk -v p="$1" -v br="$(median "$base" 1)" -v vr="$(median "$f" 1)" \
		-v bc="$(median "$base" 3)" -v vc="$(median "$f" 3)" 'BEGIN {
		printf "  %-9s %+8.2f us/request (1/rps)   %+8.2f us proxy CPU/request   %.2fx its plain throughput\n",
			p, (1 / vr - 1 / br) * 1e6, vc - bc, vr / br
	}'
}

# section_proxy: requests per second and p99 through zonesync and through
# nginx on the same configuration, and the cost of limit_req and sticky
# learn.
section_proxy() {
	need nginx nginx-core
	need wrk wrk
	need timeout coreutils
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	local dir=$work/proxy r v prog progs
	rm -rf "$dir"
	mkdir -p "$dir"

	sync_ports 1
	proxy_backend_port=${sync_free[0]}
	proxy_backend_conf "$dir/backend" "$proxy_backend_port"
	proxy_start nginx "$dir/backend" "$proxy_backend_port"
	local backend_pid=$proxy_pid

	for ((r = 1; r <= PROXY_RUNS; r++)); do
		log "proxy: run $r of $PROXY_RUNS"
		# Odd runs start with nginx, even ones with zonesync.
		progs=(nginx zonesync)
		[ $((r % 2)) = 1 ] || progs=(zonesync nginx)
		for v in plain limit_req sticky; do
			for prog in "${progs[@]}"; do
				[ "$v:$prog" != sticky:nginx ] || continue # NGINX Plus only
				proxy_run "$prog" "$v" "$dir/res.$prog.$v"
			done
		done
	done
	stop_bg "$backend_pid"

	printf '\n== proxy: GET / through one worker to an nginx backend, wrk -t1 -c%d -d%ds, median of %d run(s), %s, %s\n' \
		"$PROXY_CONNS" "$PROXY_SECONDS" "$PROXY_RUNS" "$(nginx -v 2>&1 | sed 's|.*: ||')" \
		"$(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }')"
	printf '%-14s %11s %11s %8s   %10s %10s %8s   %10s %10s %8s\n' variant 'nginx req/s' 'zs req/s' 'zs/nginx' \
		'nginx p99' 'zs p99' 'zs/nginx' 'nginx CPU' 'zs CPU' 'zs/nginx'
	printf '%-14s %11s %11s %8s   %10s %10s %8s   %10s %10s %8s\n' '' '' '' '' ms ms '' us/req us/req ''
	proxy_row 'plain proxy' plain
	proxy_row '+ limit_req' limit_req
	proxy_row '+ sticky learn' sticky
	printf 'extra cost of limit_req (rate never reached) per request, against the same program'"'"'s plain proxy:\n'
	proxy_extra nginx limit_req
	proxy_extra zonesync limit_req
	printf 'extra cost of sticky learn (lookup and store of one session per request; NGINX Plus only, so zonesync alone):\n'
	proxy_extra zonesync sticky
	printf 'goal: zonesync at least 0.80x of nginx req/s. wrk, the backend and the proxy share %s cores; nothing is pinned.\n' "$(nproc)"
}
