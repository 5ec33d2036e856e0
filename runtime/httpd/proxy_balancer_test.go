package httpd

import (
	"fmt"
	"testing"
)

// The balancers of runtime/upstream in the request path: hash with the
// request's key, ip_hash with the client's address, least_conn. Which
// server nginx picks for a key is compared with nginx itself in
// runtime/upstream's tests; here the proxy must hand them the right key.
func TestProxyBalancers(t *testing.T) {
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	servers := fmt.Sprintf("server %s; server %s; server %s;", a.addr(), b.addr(), c.addr())
	up := fmt.Sprintf("upstream h { hash $arg_k; %s }\n upstream ip { ip_hash; %s }\n upstream lc { least_conn; %s }\n",
		servers, servers, servers)
	_, addr := proxyServerWith(t, up, `location /h { proxy_pass http://h; }
  location /ip { proxy_pass http://ip; }
  location /lc { proxy_pass http://lc; }`)

	seen := map[string]bool{}
	for k := range 20 {
		uri := fmt.Sprintf("/h?k=key%d", k)
		first := get(t, addr, "x", uri).body
		for range 2 {
			if again := get(t, addr, "x", uri).body; again != first {
				t.Fatalf("hash $arg_k: %s went to %q, then to %q", uri, first, again)
			}
		}
		seen[first] = true
	}
	if len(seen) < 2 {
		t.Fatalf("hash $arg_k sent 20 keys to %v only", seen)
	}
	first := get(t, addr, "x", "/ip").body
	for range 5 {
		if again := get(t, addr, "x", "/ip").body; again != first {
			t.Fatalf("ip_hash: one client went to %q, then to %q", first, again)
		}
	}
	// least_conn with no request in flight is the round robin.
	var order string
	for range 6 {
		order += get(t, addr, "x", "/lc").body
	}
	if order != "abcabc" {
		t.Fatalf("least_conn, one request at a time: %s, want abcabc", order)
	}
}
