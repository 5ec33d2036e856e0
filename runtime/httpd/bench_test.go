package httpd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the request path, for profiles of what one request costs
// (go test -run '^$' -bench . -benchmem -cpuprofile ...). Throughput beside
// nginx is measured by `bash bench/run.sh proxy`, not here.

// miniBackend answers every request on a keep-alive connection with a
// fixed 200 "ok".
func miniBackend(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	const answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n"
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := io.WriteString(nc, answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	b.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// benchRequests sends b.N GETs of / on one keep-alive connection to addr
// and reads each answer whole (Content-Length bodies).
func benchRequests(b *testing.B, addr string) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	u0, s0 := cpuTimes(b)
	defer func() {
		// The process's CPU time (client, core and backend alike) per
		// request: steadier than ns/op on a busy machine.
		u1, s1 := cpuTimes(b)
		b.ReportMetric(float64(u1-u0)/float64(b.N), "user-ns/op")
		b.ReportMetric(float64(s1-s0)/float64(b.N), "sys-ns/op")
	}()
	for range b.N {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		length := -1
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) <= 2 {
				break
			}
			if v, ok := bytes.CutPrefix(bytes.ToLower(line), []byte("content-length: ")); ok {
				fmt.Sscanf(string(v), "%d", &length)
			}
		}
		if length < 0 {
			b.Fatal("an answer without Content-Length")
		}
		if _, err := br.Discard(length); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTimes is the user and system CPU time the process used so far.
func cpuTimes(b *testing.B) (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func BenchmarkReturn(b *testing.B) {
	dir, port := b.TempDir(), freePort(b)
	startServer(b, dir, fmt.Sprintf("events {}\nhttp {\n access_log off;\n keepalive_requests 1000000000;\n server {\n  listen 127.0.0.1:%d;\n  location / { return 200 \"ok\\n\"; }\n }\n}\n", port), Deps{})
	benchRequests(b, fmt.Sprintf("127.0.0.1:%d", port))
}

func BenchmarkProxyKeepalive(b *testing.B) {
	be := miniBackend(b)
	dir, port := b.TempDir(), freePort(b)
	startServer(b, dir, fmt.Sprintf(`events {}
http {
 access_log off;
 keepalive_requests 1000000000;
 upstream u { server %s; keepalive 16; }
 server {
  listen 127.0.0.1:%d;
  location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; }
 }
}
`, be, port), Deps{})
	benchRequests(b, fmt.Sprintf("127.0.0.1:%d", port))
}
