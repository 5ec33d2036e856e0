package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/zonesync/zonesync/directives"
)

// The result codes of a failed resolution, as nginx's resolver numbers
// them: the DNS response codes, and ETIMEDOUT when no server answered in
// time.
const (
	CodeFormErr  = 1
	CodeServFail = 2
	CodeNXDomain = 3
	CodeNotImp   = 4
	CodeRefused  = 5
	CodeTimedOut = 110
)

// ResolveError is a name that could not be resolved. Its text is the one
// nginx logs: "cluster.example could not be resolved (3: Host not found)".
type ResolveError struct {
	Name string
	Code int
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("%s could not be resolved (%d: %s)", e.Name, e.Code, ResolveErrorText(e.Code))
}

// ResolveErrorText is ngx_resolver_strerror: the text of a result code.
func ResolveErrorText(code int) string {
	switch code {
	case CodeFormErr:
		return "Format error"
	case CodeServFail:
		return "Server failure"
	case CodeNXDomain:
		return "Host not found"
	case CodeNotImp:
		return "Unimplemented"
	case CodeRefused:
		return "Operation refused"
	case CodeTimedOut:
		return "Operation timed out"
	}
	return "Unknown error"
}

// LogFunc writes one error log message; (*errlog.Log).Logf is one.
type LogFunc func(s directives.Severity, format string, args ...any)

// DefaultAttemptTimeout is how long one DNS server is waited for before
// the query goes to the next one (nginx's resend timeout).
const DefaultAttemptTimeout = 5 * time.Second

// DefaultResolverTimeout is resolver_timeout's default.
const DefaultResolverTimeout = 30 * time.Second

// DefaultErrorValid is how long a "not found" answer stands before the
// name is tried again when the resolver has no valid= (nginx keeps
// failed answers 10s).
const DefaultErrorValid = 10 * time.Second

// Resolver is the stream resolver: it asks the configured DNS servers in
// turn, for A and AAAA records, over UDP (TCP when the answer is
// truncated).
type Resolver struct {
	// Servers are the DNS servers, asked round-robin.
	Servers []netip.AddrPort
	// Timeout bounds one resolution (resolver_timeout);
	// DefaultResolverTimeout when zero.
	Timeout time.Duration
	// AttemptTimeout is how long one server is waited for;
	// DefaultAttemptTimeout when zero.
	AttemptTimeout time.Duration
	// Valid overrides the answers' TTL when not zero (valid=).
	Valid time.Duration
	// IPv4 and IPv6 select the A and AAAA queries.
	IPv4, IPv6 bool
	// Logf receives the failures of single servers; nil discards them.
	Logf LogFunc

	next atomic.Uint32
}

// NewResolver returns the resolver a stream resolver directive and
// resolver_timeout describe.
func NewResolver(r *directives.StreamResolver, timeout time.Duration, logf LogFunc) *Resolver {
	return &Resolver{Servers: r.Addrs, Timeout: timeout, Valid: r.Valid, IPv4: r.IPv4, IPv6: r.IPv6, Logf: logf}
}

// Answer is a successful resolution.
type Answer struct {
	// Addrs are the addresses, IPv4 first, each in answer order.
	Addrs []netip.Addr
	// TTL is how long the answer stands: valid=, or the smallest TTL of
	// the records.
	TTL time.Duration
}

// maxCNAMEs bounds the CNAME chain a resolution follows, as nginx's
// NGX_RESOLVER_MAX_RECURSION.
const maxCNAMEs = 50

// Lookup resolves name. A failure is a *ResolveError, or ctx's error
// when ctx ends first.
func (r *Resolver) Lookup(ctx context.Context, name string) (Answer, error) {
	name = strings.TrimSuffix(name, ".")
	if len(r.Servers) == 0 {
		return Answer{}, &ResolveError{Name: name, Code: CodeTimedOut}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultResolverTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := int(r.next.Add(1) - 1)
	target := name
	for range maxCNAMEs {
		a, cname, err := r.lookupOnce(ctx, name, target, start)
		if err != nil || cname == "" {
			return a, err
		}
		target = cname
	}
	return Answer{}, &ResolveError{Name: name, Code: CodeNXDomain}
}

// lookupOnce asks the servers in turn, from start, until one answers
// both queries or the time is up. It returns the answer, or the CNAME
// target when the answer is only an alias.
func (r *Resolver) lookupOnce(ctx context.Context, name, target string, start int) (Answer, string, error) {
	for {
		waited := false
		for i := range r.Servers {
			srv := r.Servers[(start+i)%len(r.Servers)]
			res, err := r.ask(ctx, srv, target)
			if err == nil {
				a, cname, code := res.answer(r.Valid)
				if code != 0 {
					return Answer{}, "", &ResolveError{Name: name, Code: code}
				}
				return a, cname, nil
			}
			if ctx.Err() != nil {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return Answer{}, "", &ResolveError{Name: name, Code: CodeTimedOut}
				}
				return Answer{}, "", ctx.Err()
			}
			var ne net.Error
			var de *dnsError
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				waited = true
			case errors.As(err, &de) && de.code == CodeFormErr:
				r.logf(directives.Err, "DNS error (%d: %s), query id:%d, name:\"%s\"", de.code, ResolveErrorText(de.code), de.id, target)
			case errors.As(err, &de):
				r.logf(directives.Err, "DNS error (%d: %s), query id:%d", de.code, ResolveErrorText(de.code), de.id)
			default:
				r.logf(directives.Err, "%s failed (%s) while resolving, resolver: %s", ioCall(err), directives.ErrnoText(err), srv)
			}
		}
		if !waited {
			// Every server failed at once: none will answer before the
			// timeout.
			return Answer{}, "", &ResolveError{Name: name, Code: CodeTimedOut}
		}
	}
}

func (r *Resolver) logf(s directives.Severity, format string, args ...any) {
	if r.Logf != nil {
		r.Logf(s, format, args...)
	}
}

// ioCall names the socket call a failed exchange stopped in, as nginx's
// resolver logs it.
func ioCall(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		switch op.Op {
		case "write":
			return "send()"
		case "dial":
			return "connect()"
		}
	}
	return "recv()"
}

// dnsError is a response nginx's resolver drops with a log line rather
// than report: a format error, or a code above "refused". The query is
// then left to the other servers and the timeout.
type dnsError struct {
	code int
	id   uint16
}

func (e *dnsError) Error() string {
	return fmt.Sprintf("DNS error (%d: %s)", e.code, ResolveErrorText(e.code))
}

// response is the answers of one server to the A and AAAA queries.
type response struct {
	a, aaaa *dns.Msg // nil when the family is off
}

// ask sends the queries of the enabled families to one server.
func (r *Resolver) ask(ctx context.Context, srv netip.AddrPort, name string) (response, error) {
	var res response
	var err error
	if r.IPv4 {
		if res.a, err = r.exchange(ctx, srv, name, dns.TypeA); err != nil {
			return res, err
		}
	}
	if r.IPv6 {
		if res.aaaa, err = r.exchange(ctx, srv, name, dns.TypeAAAA); err != nil {
			return res, err
		}
	}
	return res, nil
}

// exchange makes one query, over TCP again when the UDP answer is
// truncated. It gives up when the attempt timeout passes or ctx ends.
func (r *Resolver) exchange(ctx context.Context, srv netip.AddrPort, name string, qtype uint16) (*dns.Msg, error) {
	attempt := r.AttemptTimeout
	if attempt <= 0 {
		attempt = DefaultAttemptTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, attempt)
	defer cancel()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	resp, err := exchangeOver(ctx, "udp", srv, m)
	if err == nil && resp.Truncated {
		resp, err = exchangeOver(ctx, "tcp", srv, m)
	}
	if err == nil && (resp.Rcode == dns.RcodeFormatError || resp.Rcode > dns.RcodeRefused) {
		return nil, &dnsError{code: resp.Rcode, id: resp.Id}
	}
	return resp, err
}

func exchangeOver(ctx context.Context, network string, srv netip.AddrPort, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: network}
	co, err := c.DialContext(ctx, srv.String())
	if err != nil {
		return nil, err
	}
	defer co.Close()
	// miekg/dns reads until its deadline; closing the socket ends the
	// read when ctx is cancelled early.
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil && ctx.Err() != nil {
		return nil, ctxTimeoutError{ctx.Err()}
	}
	return resp, err
}

// ctxTimeoutError is an exchange cut short by its context, reported as a
// timeout.
type ctxTimeoutError struct{ err error }

func (e ctxTimeoutError) Error() string   { return e.err.Error() }
func (e ctxTimeoutError) Unwrap() error   { return e.err }
func (e ctxTimeoutError) Timeout() bool   { return true }
func (e ctxTimeoutError) Temporary() bool { return true }

// answer combines the two responses as ngx_resolver_process_a does: an
// error code from either query is the result; no address in both is "Host
// not found"; otherwise the addresses, IPv4 first. An alias without
// addresses is followed.
func (res response) answer(valid time.Duration) (Answer, string, int) {
	var a Answer
	ttl := uint32(0)
	haveTTL := false
	cname := ""
	for _, m := range []*dns.Msg{res.a, res.aaaa} {
		if m == nil {
			continue
		}
		if m.Rcode != dns.RcodeSuccess {
			return Answer{}, "", m.Rcode
		}
		for _, rr := range m.Answer {
			h := rr.Header()
			if !haveTTL || h.Ttl < ttl {
				ttl, haveTTL = h.Ttl, true
			}
			switch rr := rr.(type) {
			case *dns.A:
				if ip, ok := netip.AddrFromSlice(rr.A.To4()); ok {
					a.Addrs = append(a.Addrs, ip)
				}
			case *dns.AAAA:
				if ip, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
					a.Addrs = append(a.Addrs, ip)
				}
			case *dns.CNAME:
				cname = strings.TrimSuffix(rr.Target, ".")
			}
		}
	}
	if len(a.Addrs) == 0 {
		if cname != "" {
			return Answer{}, cname, 0
		}
		return Answer{}, "", CodeNXDomain
	}
	a.TTL = time.Duration(ttl) * time.Second
	if valid > 0 {
		a.TTL = valid
	}
	return a, "", 0
}
