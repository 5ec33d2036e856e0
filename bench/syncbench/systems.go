package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// server is one node of a replication pair, over one connection (not safe
// for concurrent use): a zonesync node through its NGINX Plus API, or a
// redis-server.
type server interface {
	// put writes records first .. first+n-1, pipelined on the connection,
	// and checks every answer.
	put(first, n int) error
	// has reports whether a record with this key can be read.
	has(key string) (bool, error)
	// count is the number of records the server holds.
	count() (int64, error)
	// sent is the replication bytes sent so far: a zonesync node's
	// bytes_out, a Redis primary's master_repl_offset.
	sent() (int64, error)
	// ready reports whether the server answers, has at least online peers
	// (zonesync nodes online; Redis replicas connected) and, with linked,
	// has finished its sync with its primary (Redis replicas).
	ready(online int, linked bool) (bool, error)
	close()
}

// bulkPutter is a server that can take every record in one request.
type bulkPutter interface {
	putBulk(first, n int) error
}

func newServer(o *options, addr string, deadline time.Time) (server, error) {
	switch o.kind {
	case "zonesync":
		u, err := url.Parse(addr)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("%q: want the node's API URL, http://HOST:PORT/api/9", addr)
		}
		return &zonesyncServer{o: o, host: u.Host, base: strings.TrimSuffix(u.Path, "/"),
			conn: &httpConn{addr: u.Host, deadline: deadline}}, nil
	case "redis":
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%q: want redis-server's HOST:PORT", addr)
		}
		return &redisServer{o: o, conn: &redisConn{addr: addr, deadline: deadline}}, nil
	}
	return nil, fmt.Errorf("-kind %q: want zonesync or redis", o.kind)
}

// ---- zonesync -----------------------------------------------------------

type zonesyncServer struct {
	o    *options
	host string // host:port
	base string // the API's path with its version, e.g. /api/9
	conn *httpConn
}

func (z *zonesyncServer) keyvalPath() string { return z.base + "/http/keyvals/" + z.o.zone }

// pairs is the JSON object of records first .. first+n-1, each with the
// record lifetime as "expire". Keys and values need no escaping (see
// validPrefix and value).
func (z *zonesyncServer) pairs(first, n int) []byte {
	ms := strconv.FormatInt(z.o.expire.Milliseconds(), 10)
	b := make([]byte, 0, n*(z.o.keySize+z.o.valueSize+32)+2)
	b = append(b, '{')
	for i := first; i < first+n; i++ {
		if i > first {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, z.o.key(i)...)
		b = append(b, `":{"value":"`...)
		b = append(b, value(i, z.o.valueSize)...)
		b = append(b, `","expire":`...)
		b = append(b, ms...)
		b = append(b, '}')
	}
	return append(b, '}')
}

// put POSTs one pair per request (a zone that is not empty takes only one
// per POST), pipelined.
func (z *zonesyncServer) put(first, n int) error {
	reqs := make([][]byte, n)
	for j := range reqs {
		reqs[j] = request("POST", z.host, z.keyvalPath(), z.pairs(first+j, 1))
	}
	return z.conn.roundTrips(reqs, func(j int, r *httpResponse) error {
		if r.status != 201 {
			return fmt.Errorf("POST %s of key %s: status %d: %s", z.keyvalPath(), z.o.key(first+j), r.status, r.body)
		}
		return nil
	})
}

// putBulk POSTs every pair in one request, which the API takes only into
// an empty zone.
func (z *zonesyncServer) putBulk(first, n int) error {
	r, err := z.conn.roundTrip(request("POST", z.host, z.keyvalPath(), z.pairs(first, n)))
	if err != nil {
		return err
	}
	if r.status != 201 {
		return fmt.Errorf("POST %s of %d pairs: status %d: %s", z.keyvalPath(), n, r.status, r.body)
	}
	return nil
}

func (z *zonesyncServer) has(key string) (bool, error) {
	r, err := z.conn.roundTrip(request("GET", z.host, z.keyvalPath()+"?key="+key, nil))
	if err != nil {
		return false, err
	}
	switch r.status {
	case 200:
		return true, nil
	case 404:
		return false, nil
	}
	return false, fmt.Errorf("GET %s?key=%s: status %d: %s", z.keyvalPath(), key, r.status, r.body)
}

// zoneSyncStatus is the part of /stream/zone_sync/ the commands read.
type zoneSyncStatus struct {
	Zones map[string]struct {
		RecordsPending int64 `json:"records_pending"`
		RecordsTotal   int64 `json:"records_total"`
	} `json:"zones"`
	Status struct {
		BytesIn     int64 `json:"bytes_in"`
		BytesOut    int64 `json:"bytes_out"`
		NodesOnline int64 `json:"nodes_online"`
	} `json:"status"`
}

func (z *zonesyncServer) status() (*zoneSyncStatus, error) {
	path := z.base + "/stream/zone_sync/"
	r, err := z.conn.roundTrip(request("GET", z.host, path, nil))
	if err != nil {
		return nil, err
	}
	if r.status != 200 {
		return nil, fmt.Errorf("GET %s: status %d: %s", path, r.status, r.body)
	}
	var st zoneSyncStatus
	if err := json.Unmarshal(r.body, &st); err != nil {
		return nil, fmt.Errorf("GET %s: %v", path, err)
	}
	if _, ok := st.Zones[z.o.zone]; !ok {
		return nil, fmt.Errorf("GET %s: no synced zone %q", path, z.o.zone)
	}
	return &st, nil
}

func (z *zonesyncServer) count() (int64, error) {
	st, err := z.status()
	if err != nil {
		return 0, err
	}
	return st.Zones[z.o.zone].RecordsTotal, nil
}

func (z *zonesyncServer) sent() (int64, error) {
	st, err := z.status()
	if err != nil {
		return 0, err
	}
	return st.Status.BytesOut, nil
}

func (z *zonesyncServer) ready(online int, _ bool) (bool, error) {
	st, err := z.status()
	if err != nil {
		return false, err
	}
	return st.Status.NodesOnline >= int64(online), nil
}

func (z *zonesyncServer) close() { z.conn.drop() }

// ---- redis --------------------------------------------------------------

type redisServer struct {
	o    *options
	conn *redisConn
}

// put sends SET key value EX seconds (PX milliseconds when the lifetime is
// not whole seconds) for every record, then reads the replies.
func (s *redisServer) put(first, n int) error {
	if err := s.conn.connect(); err != nil {
		return err
	}
	unit, amount := "EX", strconv.FormatInt(int64(s.o.expire/time.Second), 10)
	if s.o.expire%time.Second != 0 {
		unit, amount = "PX", strconv.FormatInt(s.o.expire.Milliseconds(), 10)
	}
	for i := first; i < first+n; i++ {
		s.conn.send("SET", s.o.key(i), value(i, s.o.valueSize), unit, amount)
	}
	if err := s.conn.flush(); err != nil {
		return err
	}
	for i := first; i < first+n; i++ {
		r, err := s.conn.read()
		if err != nil {
			return err
		}
		if r.kind != '+' || r.text != "OK" {
			return fmt.Errorf("SET %s: %c%s", s.o.key(i), r.kind, r.text)
		}
	}
	return nil
}

func (s *redisServer) has(key string) (bool, error) {
	r, err := s.conn.do("GET", key)
	if err != nil {
		return false, err
	}
	return !r.null, nil
}

func (s *redisServer) count() (int64, error) {
	r, err := s.conn.do("DBSIZE")
	if err != nil {
		return 0, err
	}
	if r.kind != ':' {
		return 0, fmt.Errorf("DBSIZE: %c%s", r.kind, r.text)
	}
	return r.n, nil
}

// replication is INFO replication's text.
func (s *redisServer) replication() (string, error) {
	r, err := s.conn.do("INFO", "replication")
	if err != nil {
		return "", err
	}
	if r.kind != '$' || r.null {
		return "", fmt.Errorf("INFO replication: %c%s", r.kind, r.text)
	}
	return r.text, nil
}

func (s *redisServer) sent() (int64, error) {
	info, err := s.replication()
	if err != nil {
		return 0, err
	}
	v, ok := infoField(info, "master_repl_offset")
	if !ok {
		return 0, errors.New("INFO replication has no master_repl_offset")
	}
	return strconv.ParseInt(v, 10, 64)
}

func (s *redisServer) ready(online int, linked bool) (bool, error) {
	r, err := s.conn.do("PING")
	if err != nil {
		return false, err
	}
	if r.text != "PONG" {
		return false, fmt.Errorf("PING: %c%s", r.kind, r.text)
	}
	if online == 0 && !linked {
		return true, nil
	}
	info, err := s.replication()
	if err != nil {
		return false, err
	}
	if linked {
		if v, _ := infoField(info, "master_link_status"); v != "up" {
			return false, nil
		}
		if v, _ := infoField(info, "master_sync_in_progress"); v != "0" {
			return false, nil
		}
	}
	v, _ := infoField(info, "connected_slaves")
	n, _ := strconv.Atoi(v)
	return n >= online, nil
}

func (s *redisServer) close() { s.conn.drop() }
