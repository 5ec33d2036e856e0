package streamd

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// A stream session runs nginx's phases for the modules this core has:
// preaccess (set), access (allow/deny: a denied client is disconnected),
// ssl (the handshake of "listen ... ssl"), content (return: the text is
// sent, then the connection closes; proxy_pass: see proxy.go), log (the
// access logs, when the session ends).

// writeTimeout bounds the sending of a return text.
const writeTimeout = 60 * time.Second

// nginxVersion is what $nginx_version reports.
const nginxVersion = "1.22.1"

type session struct {
	s          *Server
	srv        *server
	nc         net.Conn
	tls        *tls.Conn
	number     uint64
	start      time.Time
	listenText string

	vars     map[string]string
	missing  map[string]bool // keyval variables whose key was not found
	captures script.Match
	status   int

	// The byte counts, written by the relay's two directions while the
	// log may read them: to and from the client, to and from upstream.
	sent, received     atomic.Int64
	upSent, upReceived atomic.Int64
	proxied            bool                   // the proxy's log context applies
	peerName           atomic.Pointer[string] // the peer being tried, for the log
	states             []*upstreamState
}

func (ss *session) run() {
	defer ss.s.sessionDone(ss)
	defer ss.s.logAccess(ss)
	ss.logPlain(levelInfo, fmt.Sprintf("client %s connected to %s", addrText(ss.nc.RemoteAddr()), ss.listenText))
	for _, st := range ss.srv.sets {
		ss.setVar(st.name, st.val.Eval(ss))
	}
	if !ss.allowed() {
		ss.status = 403
		ss.logf(levelError, "initializing session", "access forbidden by rule")
		return
	}
	if ss.srv.tls != nil {
		tc := tls.Server(ss.nc, ss.srv.tls)
		ss.nc.SetDeadline(time.Now().Add(ss.srv.tlsWait))
		if err := tc.HandshakeContext(ss.s.ctx); err != nil {
			ss.status = 500
			ss.s.log.Info().Uint64("connection", ss.number).Str("client", ss.remoteAddr()).Err(err).Msg("SSL handshake failed")
			return
		}
		ss.nc.SetDeadline(time.Time{})
		ss.tls = tc
	}
	if ss.srv.proxy != nil {
		ss.serveProxy(ss.srv.proxy)
		return
	}
	text := ss.srv.ret.Eval(ss)
	w := ss.clientConn()
	w.SetWriteDeadline(time.Now().Add(writeTimeout))
	n, err := w.Write([]byte(text))
	ss.sent.Add(int64(n))
	ss.status = 200
	if err != nil {
		ss.status = 500
		return
	}
	if ss.tls != nil {
		ss.tls.CloseWrite()
	}
}

// The error log levels this core writes at.
type level int

const (
	levelInfo level = iota
	levelWarn
	levelError
	levelCrit
)

func (s *Server) event(lv level) *zerolog.Event {
	switch lv {
	case levelWarn:
		return s.log.Warn()
	case levelError:
		return s.log.Error()
	case levelCrit:
		// zerolog's fatal level is nginx's crit in runtime/errlog;
		// WithLevel does not exit.
		return s.log.WithLevel(zerolog.FatalLevel)
	}
	return s.log.Info()
}

// logf writes an error log line as nginx's stream log handler words it:
// "*N MSG while ACTION, client: ADDR, server: ADDR", and once the proxy
// runs ', upstream: "PEER", bytes from/to client:N/N, bytes from/to
// upstream:N/N'.
func (ss *session) logf(lv level, action, msg string) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d %s", ss.number, msg)
	if action != "" {
		b.WriteString(" while " + action)
	}
	b.WriteString(", client: " + ss.remoteAddr() + ", server: " + ss.listenText)
	if ss.proxied {
		if p := ss.peerName.Load(); p != nil {
			b.WriteString(`, upstream: "` + *p + `"`)
		}
		b.WriteString(", " + ss.byteCounts())
	}
	ss.s.event(lv).Msg(b.String())
}

// logPlain writes a line without the session's context, as nginx writes
// its connection and disconnection lines.
func (ss *session) logPlain(lv level, msg string) {
	ss.s.event(lv).Msg(fmt.Sprintf("*%d %s", ss.number, msg))
}

func (ss *session) byteCounts() string {
	return fmt.Sprintf("bytes from/to client:%d/%d, bytes from/to upstream:%d/%d",
		ss.received.Load(), ss.sent.Load(), ss.upReceived.Load(), ss.upSent.Load())
}

// allowed is the access module: the first rule that covers the client
// decides.
func (ss *session) allowed() bool {
	remote := addrPort(ss.nc.RemoteAddr())
	for _, r := range ss.srv.access {
		if matches(r, remote) {
			return !r.Deny
		}
	}
	return true
}

func matches(r directives.AccessRule, remote netip.AddrPort) bool {
	switch {
	case r.All:
		return true
	case !remote.IsValid():
		return r.Unix
	case r.Unix:
		return false
	}
	return r.Net.Contains(remote.Addr().Unmap()) || r.Net.Contains(remote.Addr())
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// addrText is an address with its port as nginx prints a socket
// address: "127.0.0.1:5000", "[::1]:5000", or "unix:".
func addrText(a net.Addr) string {
	if ap := addrPort(a); ap.IsValid() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
	}
	return "unix:"
}

func (ss *session) remoteAddr() string {
	ap := addrPort(ss.nc.RemoteAddr())
	if !ap.IsValid() {
		return "unix:"
	}
	return ap.Addr().String()
}

// Var is a variable of the session; unknown names read as "".
func (ss *session) Var(name string) string {
	v, _ := ss.lookup(name)
	return v
}

// lookup is a variable and whether nginx finds it: the upstream
// variables before a peer is tried, the ssl ones without TLS and a
// keyval variable whose key is not in the zone are not found (the access
// log writes "-" for them).
func (ss *session) lookup(name string) (string, bool) {
	if v, ok := ss.vars[name]; ok {
		return v, !ss.missing[name]
	}
	if u, ok := ss.s.userVars[name]; ok {
		v := ss.userVar(name, u)
		return v, !ss.missing[name]
	}
	if upstreamVars[name] {
		return ss.upstreamVar(name)
	}
	if strings.HasPrefix(name, "ssl_") && ss.tls == nil {
		return "", false
	}
	if f := builtins[name]; f != nil {
		return f(ss), true
	}
	return "", false
}

// Capture is capture n of the last regex that matched with groups.
func (ss *session) Capture(n int) string { return ss.captures.Capture(n) }

func (ss *session) setVar(name, v string) {
	if ss.vars == nil {
		ss.vars = map[string]string{}
	}
	ss.vars[name] = v
}

func (ss *session) userVar(name string, u *userVar) string {
	var v string
	switch {
	case u.m != nil:
		val, re, m := u.m.Find(u.m.Source.Eval(ss))
		if re != nil && re.Captures() {
			ss.captures = m
			for n, c := range m.Named {
				ss.setVar(strings.ToLower(n), c)
			}
		}
		v = val.Eval(ss)
		if u.m.Volatile {
			return v
		}
	case u.kv:
		if b, ok := u.kvZone.Match(u.kvKey.Eval(ss)); ok {
			v = string(b)
		} else {
			if ss.missing == nil {
				ss.missing = map[string]bool{}
			}
			ss.missing[name] = true
		}
	default:
		return ""
	}
	ss.setVar(name, v)
	return v
}

// builtins are the stream variables this core computes.
var builtins = map[string]func(ss *session) string{
	"remote_addr": (*session).remoteAddr,
	"remote_port": func(ss *session) string {
		if ap := addrPort(ss.nc.RemoteAddr()); ap.IsValid() {
			return strconv.Itoa(int(ap.Port()))
		}
		return ""
	},
	"binary_remote_addr": func(ss *session) string {
		if ap := addrPort(ss.nc.RemoteAddr()); ap.IsValid() {
			return string(ap.Addr().AsSlice())
		}
		return ""
	},
	"server_addr": func(ss *session) string {
		if ap := addrPort(ss.nc.LocalAddr()); ap.IsValid() {
			return ap.Addr().String()
		}
		return ss.listenText
	},
	"server_port": func(ss *session) string {
		if ap := addrPort(ss.nc.LocalAddr()); ap.IsValid() {
			return strconv.Itoa(int(ap.Port()))
		}
		return ""
	},
	"protocol":       func(*session) string { return "TCP" },
	"hostname":       func(ss *session) string { return ss.s.hostname },
	"pid":            func(*session) string { return strconv.Itoa(os.Getpid()) },
	"nginx_version":  func(*session) string { return nginxVersion },
	"connection":     func(ss *session) string { return strconv.FormatUint(ss.number, 10) },
	"status":         func(ss *session) string { return fmt.Sprintf("%03d", ss.status) },
	"bytes_received": func(ss *session) string { return strconv.FormatInt(ss.received.Load(), 10) },
	"bytes_sent":     func(ss *session) string { return strconv.FormatInt(ss.sent.Load(), 10) },
	"msec": func(ss *session) string {
		ms := ss.s.now().UnixMilli()
		return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
	},
	"time_local":   func(ss *session) string { return ss.s.now().Format("02/Jan/2006:15:04:05 -0700") },
	"time_iso8601": func(ss *session) string { return ss.s.now().Format(time.RFC3339) },
	"session_time": func(ss *session) string {
		ms := max(ss.s.now().Sub(ss.start).Milliseconds(), 0)
		return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
	},
	"ssl_protocol": func(ss *session) string {
		if ss.tls == nil {
			return ""
		}
		return map[uint16]string{tls.VersionTLS10: "TLSv1", tls.VersionTLS11: "TLSv1.1", tls.VersionTLS12: "TLSv1.2",
			tls.VersionTLS13: "TLSv1.3"}[ss.tls.ConnectionState().Version]
	},
	"ssl_cipher": func(ss *session) string {
		if ss.tls == nil {
			return ""
		}
		return tls.CipherSuiteName(ss.tls.ConnectionState().CipherSuite)
	},
	"ssl_server_name": func(ss *session) string {
		if ss.tls == nil {
			return ""
		}
		return ss.tls.ConnectionState().ServerName
	},
}
