#!/usr/bin/env bash
# make run: a three-node zonesync cluster on 127.0.0.1-3. Writes a key
# through the API of node 1, shows it on nodes 2 and 3, then runs until
# Ctrl-C, which stops every node with QUIT (each pushes what is pending
# and closes its links gracefully).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${ZONESYNC:-bin/zonesync}
dir=$(mktemp -d)
pids=()

stop() {
	trap - INT TERM EXIT
	echo
	echo "==> stopping the cluster with QUIT"
	for n in 1 2 3; do
		[ -f "$dir/node$n.pid" ] && kill -QUIT "$(cat "$dir/node$n.pid")" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$dir"
	echo "==> all nodes stopped"
}
trap stop INT TERM EXIT

for n in 1 2 3; do
	sed -e "s/NODE/$n/g" -e "s|DIR|$dir|g" examples/cluster/node.conf.in >"$dir/node$n.conf"
	# Each node runs in a session of its own, so that Ctrl-C reaches only
	# this script, which stops the nodes with QUIT rather than INT.
	setsid bash -c 'exec "$0" -p "$1" -c "$2" 2>&1 | sed -u "s/^/[node$3] /"' \
		"$bin" "$dir/" "$dir/node$n.conf" "$n" &
	pids+=($!)
done

api() { echo "http://127.0.0.$1:8080/api/9/http/keyvals/sessions"; }
for n in 1 2 3; do
	for _ in $(seq 1 100); do curl -fs "$(api $n)" >/dev/null && break; sleep 0.1; done
done

echo "==> POST {\"user42\":\"backend-b\"} to node 1"
curl -fs -X POST -d '{"user42":"backend-b"}' "$(api 1)"
for n in 2 3; do
	for _ in $(seq 1 100); do
		got=$(curl -fs "$(api $n)")
		[ "$got" != "{}" ] && break
		sleep 0.1
	done
	echo "==> node $n has $got"
done
curl -fs "http://127.0.0.1:8080/api/9/stream/zone_sync/"; echo
echo "==> the cluster runs; press Ctrl-C to stop it"
wait
