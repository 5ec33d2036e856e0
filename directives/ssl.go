package directives

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/directives/value"
	"github.com/zonesync/zonesync/grammar"
)

// The ssl_* directives of stream and http servers (ngx_stream_ssl_module
// and ngx_http_ssl_module), and the TLS file checks nginx makes when it
// merges a server: certificates and keys must load, the client and trusted
// CA files must hold certificates, the cipher list must select something.
// zone_sync's outgoing TLS (zonesync.go) shares the readers defined here.
func init() {
	for _, ctx := range []Context{Stream, HTTP} {
		Register("ssl_certificate", ctx, Def{Set: setSSLFile, Multi: true, Inherit: true,
			Doc: "Certificate file (PEM) of the server; several may be given, one per key type."})
		Register("ssl_certificate_key", ctx, Def{Set: setSSLFile, Multi: true, Inherit: true,
			Doc: "Secret key file (PEM) of each ssl_certificate, in the same order."})
		Register("ssl_password_file", ctx, Def{Set: setSSLPasswordFile, Inherit: true,
			Doc: "File of passphrases for the secret keys, one a line, tried in turn."})
		Register("ssl_protocols", ctx, Def{Set: setSSLProtocols, Multi: true, Inherit: true,
			Default: []string{"TLSv1.2", "TLSv1.3"}, DefaultDoc: "TLSv1.2 TLSv1.3",
			Doc: "Enabled protocol versions."})
		Register("ssl_ciphers", ctx, Def{Set: setString, Inherit: true,
			Default: "HIGH:!aNULL:!MD5", DefaultDoc: "HIGH:!aNULL:!MD5",
			Doc: "Enabled ciphers, in OpenSSL's cipher-list syntax."})
		Register("ssl_prefer_server_ciphers", ctx, Def{Set: setFlag, Inherit: true, Default: false, DefaultDoc: "off",
			Doc: "Prefer the server's cipher order over the client's."})
		Register("ssl_verify_client", ctx, Def{Set: setSSLVerifyClient, Inherit: true, Default: "off", DefaultDoc: "off",
			Doc: "Verification of client certificates: on, off, optional or optional_no_ca."})
		Register("ssl_verify_depth", ctx, Def{Set: setNumber, Inherit: true, Default: 1, DefaultDoc: "1",
			Doc: "Verification depth of the client certificate chain."})
		Register("ssl_client_certificate", ctx, Def{Set: setSSLFile, Inherit: true,
			Doc: "CA certificates (PEM) that verify client certificates and are sent to clients."})
		Register("ssl_trusted_certificate", ctx, Def{Set: setSSLFile, Inherit: true,
			Doc: "CA certificates (PEM) that verify client certificates and are not sent."})
		Register("ssl_crl", ctx, Def{Set: setSSLFile, Inherit: true,
			Doc: "Revoked certificates (PEM) used when verifying client certificates."})
		Register("ssl_conf_command", ctx, Def{Set: setSSLConfCommand, Multi: true, Inherit: true,
			Doc: "OpenSSL configuration command; inherited only when the level sets none."})
		Register("ssl_session_cache", ctx, Def{Set: setSSLSessionCache, Inherit: true,
			Default: SSLSessionCache{Mode: "none"}, DefaultDoc: "none",
			Doc: "Session cache: off, none, builtin[:size] and/or shared:name:size."})
		Register("ssl_session_timeout", ctx, Def{Set: setSec, Inherit: true, Default: 5 * time.Minute, DefaultDoc: "5m",
			Doc: "How long a client may reuse a session."})
		Register("ssl_session_tickets", ctx, Def{Set: setFlag, Inherit: true, Default: true, DefaultDoc: "on",
			Doc: "Session resumption through TLS session tickets."})
		Register("ssl_session_ticket_key", ctx, Def{Set: setSSLFile, Multi: true, Inherit: true,
			Doc: "File of 48 or 80 random bytes that encrypts session tickets."})
	}
	Register("ssl_handshake_timeout", Stream, Def{Set: setMsec, Inherit: true, Default: 60 * time.Second, DefaultDoc: "60s",
		Doc: "Timeout for the TLS handshake of a stream connection."})
	AddFinisher("http", Main, sslMergeHTTP)
}

// SSLFile is a file named by a TLS directive: the name as written and the
// path it stands for (relative names are relative to the folder of the
// main configuration file, as nginx's conf prefix). A name holding a
// variable or starting with "data:" or "engine:" is kept as is.
type SSLFile struct {
	Name string
	Path string
}

// sslFile resolves a file name as ngx_conf_full_name with the conf prefix
// does; "" stays the zero SSLFile.
func sslFile(ld *Loader, name string) SSLFile {
	switch {
	case name == "":
		return SSLFile{}
	case sslDeferred(name) || strings.HasPrefix(name, "data:"):
		return SSLFile{Name: name, Path: name}
	}
	return SSLFile{Name: name, Path: ld.Path(name, true)}
}

// sslDeferred reports a file nginx does not read at start: one named with
// variables (loaded per connection) or an engine key.
func sslDeferred(name string) bool {
	return strings.Contains(name, "$") || strings.HasPrefix(name, "engine:")
}

// setSSLFile stores a TLS file as an SSLFile; in http, where the http
// family reads ssl_certificate and ssl_certificate_key as the names
// nginx's str slots keep, it stores the name as written.
func setSSLFile(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	if l.Ctx&(HTTP|HTTPServer) != 0 {
		return d.Args[0], nil
	}
	return sslFile(ld, d.Args[0]), nil
}

// sslFileValue turns a stored file value into an SSLFile; ld resolves the
// names http keeps as written (it may be nil elsewhere).
func sslFileValue(ld *Loader, v any) SSLFile {
	switch v := v.(type) {
	case SSLFile:
		return v
	case string:
		if ld == nil {
			return SSLFile{Name: v, Path: v}
		}
		return sslFile(ld, v)
	}
	return SSLFile{}
}

// SSLPasswords is the value of ssl_password_file and
// zone_sync_ssl_password_file: the passphrases read from the file when the
// directive is read, as nginx reads them.
type SSLPasswords struct {
	File SSLFile
	List []string
}

func setSSLPasswordFile(ld *Loader, _ *Level, d *grammar.Directive) (any, error) {
	return readSSLPasswords(ld, d)
}

// readSSLPasswords is ngx_ssl_read_password_file: one passphrase a line,
// CR LF or LF ends a line, empty lines are skipped, and a file with none
// gives one empty passphrase.
func readSSLPasswords(ld *Loader, d *grammar.Directive) (SSLPasswords, error) {
	f := sslFile(ld, d.Args[0])
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return SSLPasswords{}, d.Errorf(`open() "%s" failed (%s)`, f.Path, errnoText(err))
	}
	p := SSLPasswords{File: f}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line != "" {
			p.List = append(p.List, line)
		}
	}
	if len(p.List) == 0 {
		p.List = []string{""}
	}
	return p, nil
}

// sslProtocolNames are the words of the protocols bitmask, in bit order.
var sslProtocolNames = []string{"SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}

func setSSLProtocols(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	return parseSSLProtocols(ld, l, d)
}

// parseSSLProtocols is ngx_conf_set_bitmask_slot over the protocol names:
// words match in any case, one already set at this level is warned about,
// an unknown one is an error. A repeated directive adds to the level's
// set, as nginx ORs into one mask. The result is in bit order.
func parseSSLProtocols(ld *Loader, l *Level, d *grammar.Directive) ([]string, error) {
	set := map[string]bool{}
	if own := l.Own(d.Name); len(own) > 0 {
		for _, p := range own[len(own)-1].V.([]string) {
			set[p] = true
		}
	}
	for _, w := range d.Args {
		name := ""
		for _, n := range sslProtocolNames {
			if strings.EqualFold(w, n) {
				name = n
			}
		}
		if name == "" {
			return nil, d.Errorf(`invalid value "%s"`, w)
		}
		if set[name] {
			ld.Warn(d, `duplicate value "%s"`, w)
		}
		set[name] = true
	}
	var out []string
	for _, n := range sslProtocolNames {
		if set[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// sslVerifyValues are the words of ssl_verify_client, nginx's enum.
var sslVerifyValues = []string{"off", "on", "optional", "optional_no_ca"}

func setSSLVerifyClient(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	for _, v := range sslVerifyValues {
		if strings.EqualFold(d.Args[0], v) {
			return v, nil
		}
	}
	return nil, d.Errorf(`invalid value "%s"`, d.Args[0])
}

func setSSLConfCommand(_ *Loader, _ *Level, d *grammar.Directive) (any, error) {
	return [2]string{d.Args[0], d.Args[1]}, nil
}

// SSLSessionCache is the value of ssl_session_cache.
type SSLSessionCache struct {
	// Mode is "off", "none" or "builtin" for the words of that name; a
	// shared cache alone leaves it "" (nginx's NO_BUILTIN).
	Mode        string
	BuiltinSize int // sessions of builtin:N; 0 for the default
	Shared      *Zone
}

// setSSLSessionCache reads off, none, builtin[:N] and shared:NAME:SIZE; a
// shared cache is a zone of at least eight memory pages.
func setSSLSessionCache(ld *Loader, l *Level, d *grammar.Directive) (any, error) {
	var c SSLSessionCache
	tag := "http ssl"
	if l.Ctx&(Stream|StreamServer) != 0 {
		tag = "stream ssl"
	}
	for _, w := range d.Args {
		switch {
		case w == "off" || w == "none" || w == "builtin":
			c.Mode = w
		case strings.HasPrefix(w, "builtin:") && len(w) > len("builtin:"):
			n, err := value.Number(w[len("builtin:"):])
			if err != nil {
				return nil, d.Errorf(`invalid session cache "%s"`, w)
			}
			c.Mode, c.BuiltinSize = "builtin", n
		case strings.HasPrefix(w, "shared:") && len(w) > len("shared:"):
			name, size, _ := strings.Cut(w[len("shared:"):], ":")
			if name == "" {
				return nil, d.Errorf(`invalid session cache "%s"`, w)
			}
			n, err := value.Size(size)
			if err != nil {
				return nil, d.Errorf(`invalid session cache "%s"`, w)
			}
			if n < minZonePages*int64(pageSize) {
				return nil, d.Errorf(`session cache "%s" is too small`, w)
			}
			z, err := ZonesOf(ld).Add(d, name, ZoneOther, tag, n)
			if err != nil {
				return nil, err
			}
			c.Shared = z
		default:
			return nil, d.Errorf(`invalid session cache "%s"`, w)
		}
	}
	return c, nil
}

// pageSize is the memory page size nginx sizes zones and buffers with.
var pageSize = os.Getpagesize()

// minZonePages is the smallest shared memory zone nginx's modules accept,
// in pages.
const minZonePages = 8

// ServerSSL is the effective TLS setup of a server that accepts TLS
// connections: stream servers with "listen ... ssl", http servers with
// certificates.
type ServerSSL struct {
	Certificates        []SSLFile
	CertificateKeys     []SSLFile
	Passwords           []string
	Protocols           []string
	Ciphers             string
	CipherSuites        []uint16 // Ciphers as Go's crypto/tls suites
	PreferServerCiphers bool
	VerifyClient        string // off, on, optional, optional_no_ca
	VerifyDepth         int
	ClientCertificate   SSLFile
	TrustedCertificate  SSLFile
	CRL                 SSLFile
	ConfCommands        [][2]string
	SessionCache        SSLSessionCache
	SessionTimeout      time.Duration
	SessionTickets      bool
	SessionTicketKeys   []SSLFile
	// HandshakeTimeout is ssl_handshake_timeout (stream only).
	HandshakeTimeout time.Duration
}

// ServerSSLOf returns the effective ssl_* settings at a stream or http
// server level (or at the stream or http level itself). ld resolves the
// file names of http levels; it may be nil for stream levels.
func ServerSSLOf(ld *Loader, l *Level) *ServerSSL {
	s := &ServerSSL{
		Certificates:        sslFiles(ld, l, "ssl_certificate"),
		CertificateKeys:     sslFiles(ld, l, "ssl_certificate_key"),
		Protocols:           l.Get("ssl_protocols").([]string),
		Ciphers:             l.Get("ssl_ciphers").(string),
		PreferServerCiphers: l.Get("ssl_prefer_server_ciphers").(bool),
		VerifyClient:        l.Get("ssl_verify_client").(string),
		VerifyDepth:         l.Get("ssl_verify_depth").(int),
		ClientCertificate:   sslFileOf(ld, l, "ssl_client_certificate"),
		TrustedCertificate:  sslFileOf(ld, l, "ssl_trusted_certificate"),
		CRL:                 sslFileOf(ld, l, "ssl_crl"),
		SessionCache:        l.Get("ssl_session_cache").(SSLSessionCache),
		SessionTimeout:      l.Get("ssl_session_timeout").(time.Duration),
		SessionTickets:      l.Get("ssl_session_tickets").(bool),
		SessionTicketKeys:   sslFiles(ld, l, "ssl_session_ticket_key"),
	}
	if p, ok := l.Get("ssl_password_file").(SSLPasswords); ok {
		s.Passwords = p.List
	}
	for _, v := range l.Lookup("ssl_conf_command") {
		s.ConfCommands = append(s.ConfCommands, v.V.([2]string))
	}
	s.CipherSuites = goCipherSuites(opensslCipherList(s.Ciphers))
	if t, ok := l.Get("ssl_handshake_timeout").(time.Duration); ok && l.Ctx&(Stream|StreamServer) != 0 {
		s.HandshakeTimeout = t
	}
	return s
}

// sslFiles returns the effective files of an array directive.
func sslFiles(ld *Loader, l *Level, name string) []SSLFile {
	var out []SSLFile
	for _, v := range l.Lookup(name) {
		out = append(out, sslFileValue(ld, v.V))
	}
	return out
}

// sslFileOf returns the effective file of a single-file directive, or the
// zero SSLFile.
func sslFileOf(ld *Loader, l *Level, name string) SSLFile {
	return sslFileValue(ld, l.Get(name))
}

// hasSSLListen returns the last "listen ... ssl" of a server, or nil.
func hasSSLListen(srv *Level) *grammar.Directive {
	var last *grammar.Directive
	for _, v := range srv.Own("listen") {
		for _, p := range v.D.Args[1:] {
			if p == "ssl" {
				last = v.D
			}
		}
	}
	return last
}

// sslMergeStream is ngx_stream_ssl_merge_conf's checks for one server,
// made when the stream block ends (end is that block's directive): a
// server that listens with ssl needs certificates and keys that load, and
// with ssl_verify_client a CA file.
func sslMergeStream(ld *Loader, srv *Level, end *grammar.Directive) error {
	listen := hasSSLListen(srv)
	if listen == nil {
		return nil
	}
	where := fmt.Sprintf("in %s:%d", listen.File(), listen.Line)
	s := ServerSSLOf(ld, srv)
	switch {
	case len(s.Certificates) == 0:
		return &grammar.Error{Msg: `no "ssl_certificate" is defined for the "listen ... ssl" directive ` + where}
	case len(s.CertificateKeys) == 0:
		return &grammar.Error{Msg: `no "ssl_certificate_key" is defined for the "listen ... ssl" directive ` + where}
	case len(s.CertificateKeys) < len(s.Certificates):
		return &grammar.Error{Msg: fmt.Sprintf(`no "ssl_certificate_key" is defined for certificate "%s" and the "listen ... ssl" directive %s`,
			s.Certificates[len(s.Certificates)-1].Name, where)}
	}
	if err := checkServerSSLFiles(s, false, true); err != nil {
		return err
	}
	return checkSessionTicketKeys(s, end)
}

// sslMergeHTTP runs the rest of ngx_http_ssl_merge_srv_conf's checks for
// every server of the http block that has certificates: the http family
// (http.go) loads the certificates and keys and checks "listen ... ssl"
// servers; this adds the cipher list, client verification and the CA,
// CRL and session ticket key files.
func sslMergeHTTP(ld *Loader, http *Level) error {
	for _, srv := range http.Children {
		if srv.Ctx != HTTPServer {
			continue
		}
		s := ServerSSLOf(ld, srv)
		if len(s.Certificates) == 0 {
			continue
		}
		if err := checkServerSSLFiles(s, true, false); err != nil {
			return err
		}
		if err := checkSessionTicketKeys(s, http.Directive); err != nil {
			return err
		}
	}
	return nil
}

// checkServerSSLFiles loads what nginx loads when it creates a server's
// TLS context, in its order: the cipher list, each certificate and key
// (when certs is set), then with client verification the CA files. http
// loads the trusted CA file and the CRL even without verification; stream
// only with it.
func checkServerSSLFiles(s *ServerSSL, http, certs bool) error {
	if len(opensslCipherList(s.Ciphers)) == 0 {
		return sslCipherError(s.Ciphers)
	}
	for i, c := range s.Certificates {
		if !certs {
			break
		}
		if _, err := loadCertKey(c, s.CertificateKeys[i], s.Passwords); err != nil {
			return err
		}
	}
	verify := s.VerifyClient != "off"
	if verify {
		if s.ClientCertificate.Name == "" && s.VerifyClient != "optional_no_ca" {
			return &grammar.Error{Msg: "no ssl_client_certificate for ssl_verify_client"}
		}
		if err := loadVerifyLocations(s.ClientCertificate); err != nil {
			return err
		}
	}
	if verify || http {
		if err := loadVerifyLocations(s.TrustedCertificate); err != nil {
			return err
		}
		if err := loadCRL(s.CRL); err != nil {
			return err
		}
	}
	return nil
}

// checkSessionTicketKeys is ngx_ssl_session_ticket_keys: each file must
// open and hold 48 or 80 bytes. nginx locates these messages at the line
// that ends the block being merged.
func checkSessionTicketKeys(s *ServerSSL, block *grammar.Directive) error {
	for _, f := range s.SessionTicketKeys {
		if sslDeferred(f.Name) {
			continue
		}
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return blockEndError(block, fmt.Sprintf(`open() "%s" failed (%s)`, f.Path, errnoText(err)))
		}
		if len(b) != 48 && len(b) != 80 {
			return blockEndError(block, fmt.Sprintf(`"%s" must be 48 or 80 bytes`, f.Path))
		}
	}
	return nil
}

// blockEndError locates a merge-time message as nginx does: at the line of
// the "}" that ended the block being merged.
func blockEndError(block *grammar.Directive, msg string) error {
	if block == nil || block.Block == nil {
		return &grammar.Error{Msg: msg}
	}
	return &grammar.Error{Msg: msg, File: block.File(), Line: block.Block.EndLine}
}

// The texts OpenSSL 3.0 gives for the failures zonesync reproduces; nginx
// appends them to its own message as "(SSL: ...)".
const (
	sslNoStartLine   = "error:0480006C:PEM routines::no start line:Expecting: TRUSTED CERTIFICATE"
	sslNoKeyDecoder  = "error:1E08010C:DECODER routines::unsupported:No supported data to decode. Input type: PEM"
	sslBadASN1       = "error:0680007B:asn1 encoding routines::header too long"
	sslKeyMismatch   = "error:05800074:x509 certificate routines::key values mismatch"
	sslNoCertOrCRL   = "error:05800088:x509 certificate routines::no certificate or crl found"
	sslNoPassword    = "error:0480006D:PEM routines::problems getting password"
	sslBadDecrypt    = "error:1C800064:Provider routines::bad decrypt error:11800074:PKCS12 routines::pkcs12 cipherfinal error:"
	sslNoCipherMatch = "error:0A0000B9:SSL routines::no cipher match"
)

// sslOpenError is OpenSSL's error queue for a file fopen() could not open;
// withLib adds the x509 "system lib" entry the CA loaders push.
func sslOpenError(path string, err error, withLib bool) string {
	var errno syscall.Errno
	code, text := 2, "No such file or directory"
	if errors.As(err, &errno) {
		code, text = int(errno), strerror(errno)
	}
	s := fmt.Sprintf("error:%08X:system library::%s:calling fopen(%s, r) error:10000080:BIO routines::no such file", 0x80000000|code, text, path)
	if withLib {
		s += " error:05880002:x509 certificate routines::system lib"
	}
	return s
}

func sslError(format string, args ...any) error {
	return &grammar.Error{Msg: fmt.Sprintf(format, args...)}
}

func sslCipherError(list string) error {
	return sslError(`SSL_CTX_set_cipher_list("%s") failed (SSL: %s)`, list, sslNoCipherMatch)
}

// sslReadFile reads a TLS file; "data:" names carry the PEM text inline.
func sslReadFile(f SSLFile) ([]byte, error) {
	if rest, ok := strings.CutPrefix(f.Name, "data:"); ok {
		return []byte(rest), nil
	}
	return os.ReadFile(f.Path)
}

// loadCertKey checks a certificate and its key as ngx_ssl_certificate
// loads them: the certificate chain, then the key (trying each passphrase
// for an encrypted one), then that the two belong together. It returns
// the pair ready for crypto/tls. Names with variables are loaded per
// connection by nginx and are not checked.
func loadCertKey(certFile, keyFile SSLFile, passwords []string) (*tls.Certificate, error) {
	if sslDeferred(certFile.Name) || sslDeferred(keyFile.Name) {
		return nil, nil
	}
	chain, err := loadCertChain(certFile)
	if err != nil {
		return nil, err
	}
	key, err := loadPrivateKey(keyFile, passwords)
	if err != nil {
		return nil, err
	}
	pub, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	signer, isSigner := key.(crypto.Signer)
	if !ok || !isSigner || !pub.Equal(signer.Public()) {
		return nil, sslError(`SSL_CTX_use_PrivateKey("%s") failed (SSL: %s)`, keyFile.Path, sslKeyMismatch)
	}
	c := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

// certBlockTypes are the PEM labels PEM_read_bio_X509_AUX accepts.
var certBlockTypes = map[string]bool{"CERTIFICATE": true, "TRUSTED CERTIFICATE": true, "X509 CERTIFICATE": true}

// loadCertChain reads every certificate of a PEM file: the first is the
// server's, the rest its chain.
func loadCertChain(f SSLFile) ([]*x509.Certificate, error) {
	fail := func(tail string) error {
		return sslError(`cannot load certificate "%s": PEM_read_bio_X509_AUX() failed (SSL: %s)`, f.Path, tail)
	}
	b, err := sslReadFile(f)
	if err != nil {
		return nil, sslError(`cannot load certificate "%s": BIO_new_file() failed (SSL: %s)`, f.Path, sslOpenError(f.Path, err, false))
	}
	var chain []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if !certBlockTypes[blk.Type] {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fail(sslBadASN1)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fail(sslNoStartLine)
	}
	return chain, nil
}

// errWrongPassword marks a key that did not decrypt with a passphrase.
var errWrongPassword = errors.New("wrong password")

// loadPrivateKey reads the first private key of a PEM file, as
// PEM_read_bio_PrivateKey does, decrypting it with each passphrase in turn.
func loadPrivateKey(f SSLFile, passwords []string) (crypto.PrivateKey, error) {
	fail := func(tail string) error {
		return sslError(`cannot load certificate key "%s": PEM_read_bio_PrivateKey() failed (SSL: %s)`, f.Path, tail)
	}
	b, err := sslReadFile(f)
	if err != nil {
		return nil, sslError(`cannot load certificate key "%s": BIO_new_file() failed (SSL: %s)`, f.Path, sslOpenError(f.Path, err, false))
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fail(sslNoKeyDecoder)
		}
		if !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			continue
		}
		encrypted := blk.Type == "ENCRYPTED PRIVATE KEY" || blk.Headers["Proc-Type"] == "4,ENCRYPTED"
		if !encrypted {
			k, err := parsePrivateKeyDER(blk.Type, blk.Bytes)
			if err != nil {
				return nil, fail(sslNoKeyDecoder)
			}
			return k, nil
		}
		if len(passwords) == 0 {
			return nil, fail(sslNoPassword)
		}
		for _, pw := range passwords {
			k, err := decryptPrivateKey(blk, pw)
			if err == nil {
				return k, nil
			}
			if !errors.Is(err, errWrongPassword) {
				return nil, fail(sslNoKeyDecoder)
			}
		}
		// OpenSSL keeps the errors of the last passphrase tried, twice.
		why := "maybe wrong password"
		if passwords[len(passwords)-1] == "" {
			why = "empty password"
		}
		return nil, fail(sslBadDecrypt + why + " " + sslBadDecrypt + why)
	}
}

// parsePrivateKeyDER reads a PKCS#8, PKCS#1 or SEC 1 key.
func parsePrivateKeyDER(typ string, der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("cannot parse %s", typ)
}

// decryptPrivateKey decrypts a PKCS#8 EncryptedPrivateKeyInfo (PBES2 with
// PBKDF2 and AES-CBC or 3DES-CBC, what OpenSSL writes) or a legacy
// "Proc-Type: 4,ENCRYPTED" PEM block.
func decryptPrivateKey(blk *pem.Block, password string) (crypto.PrivateKey, error) {
	if blk.Type != "ENCRYPTED PRIVATE KEY" {
		//lint:ignore SA1019 legacy encrypted PEM keys are still written by OpenSSL's "traditional" format.
		der, err := x509.DecryptPEMBlock(blk, []byte(password)) //nolint:staticcheck
		if err != nil {
			return nil, errWrongPassword
		}
		k, err := parsePrivateKeyDER(blk.Type, der)
		if err != nil {
			return nil, errWrongPassword
		}
		return k, nil
	}
	der, err := decryptPBES2(blk.Bytes, password)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errWrongPassword
	}
	return k, nil
}

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type encryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt      []byte
	Iter      int
	KeyLength int                      `asn1:"optional"`
	PRF       pkix.AlgorithmIdentifier `asn1:"optional"`
}

// decryptPBES2 undoes PKCS#5 v2 encryption of a PKCS#8 key.
func decryptPBES2(der []byte, password string) ([]byte, error) {
	unsupported := errors.New("unsupported key encryption")
	var info encryptedPrivateKeyInfo
	if _, err := asn1.Unmarshal(der, &info); err != nil || !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, unsupported
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, unsupported
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, unsupported
	}
	var prf func() hash.Hash
	switch p := kdf.PRF.Algorithm; {
	case len(p) == 0 || p.Equal(oidHMACSHA1):
		prf = sha1.New
	case p.Equal(oidHMACSHA224):
		prf = sha256.New224
	case p.Equal(oidHMACSHA256):
		prf = sha256.New
	case p.Equal(oidHMACSHA384):
		prf = sha512.New384
	case p.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, unsupported
	}
	var keyLen int
	var newBlock func([]byte) (cipher.Block, error)
	switch s := params.Scheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keyLen, newBlock = 16, aes.NewCipher
	case s.Equal(oidAES192CBC):
		keyLen, newBlock = 24, aes.NewCipher
	case s.Equal(oidAES256CBC):
		keyLen, newBlock = 32, aes.NewCipher
	case s.Equal(oidDESEDE3CBC):
		keyLen, newBlock = 24, des.NewTripleDESCipher
	default:
		return nil, unsupported
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Scheme.Parameters.FullBytes, &iv); err != nil {
		return nil, unsupported
	}
	key, err := pbkdf2.Key(prf, password, kdf.Salt, kdf.Iter, keyLen)
	if err != nil {
		return nil, unsupported
	}
	block, err := newBlock(key)
	if err != nil || len(iv) != block.BlockSize() || len(info.Data)%block.BlockSize() != 0 || len(info.Data) == 0 {
		return nil, unsupported
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.Data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > block.BlockSize() || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errWrongPassword
	}
	return out[:len(out)-pad], nil
}

// loadVerifyLocations is SSL_CTX_load_verify_locations over a CA file:
// it must open and hold at least one certificate or CRL.
func loadVerifyLocations(f SSLFile) error {
	_, err := loadCertsAndCRLs(f, "SSL_CTX_load_verify_locations")
	return err
}

// loadCRL is X509_LOOKUP_load_file over a CRL file, which takes
// certificates and CRLs alike.
func loadCRL(f SSLFile) error {
	_, err := loadCertsAndCRLs(f, "X509_LOOKUP_load_file")
	return err
}

// loadCertsAndCRLs reads the certificates of a CA or CRL file, with the
// message of the OpenSSL call nginx makes for it; an empty name is none.
func loadCertsAndCRLs(f SSLFile, call string) ([]*x509.Certificate, error) {
	if f.Name == "" {
		return nil, nil
	}
	b, err := sslReadFile(f)
	if err != nil {
		return nil, sslError(`%s("%s") failed (SSL: %s)`, call, f.Path, sslOpenError(f.Path, err, true))
	}
	var certs []*x509.Certificate
	found := false
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch {
		case certBlockTypes[blk.Type]:
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, sslError(`%s("%s") failed (SSL: %s)`, call, f.Path, sslBadASN1)
			}
			certs, found = append(certs, c), true
		case blk.Type == "X509 CRL":
			if _, err := x509.ParseRevocationList(blk.Bytes); err != nil {
				return nil, sslError(`%s("%s") failed (SSL: %s)`, call, f.Path, sslBadASN1)
			}
			found = true
		}
	}
	if !found {
		return nil, sslError(`%s("%s") failed (SSL: %s)`, call, f.Path, sslNoCertOrCRL)
	}
	return certs, nil
}

// opensslCipher is one TLSv1.2-and-older cipher suite as OpenSSL 3.0 lists
// it with "openssl ciphers -v": name, protocol, key exchange,
// authentication, encryption, MAC, and whether DEFAULT selects it.
type opensslCipher struct {
	name, proto, kx, au, enc, mac string
	dflt                          bool
}

var opensslCiphers = parseOpensslCiphers(opensslCipherTable)

func parseOpensslCiphers(text string) []opensslCipher {
	var out []opensslCipher
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		c := opensslCipher{name: f[0], proto: f[1], kx: f[2], au: f[3], enc: f[4], mac: f[5]}
		c.dflt = len(f) > 6 && f[6] == "D"
		out = append(out, c)
	}
	return out
}

// opensslAliases say which suites each OpenSSL cipher-list keyword selects,
// by the suite's attributes. Keywords for ciphers OpenSSL 3.0 no longer
// builds (3DES, RC4, DES, SEED, IDEA, MEDIUM, LOW, EXPORT...) select none.
var opensslAliases = map[string]func(c opensslCipher) bool{
	"ALL":                 func(c opensslCipher) bool { return c.enc != "None" },
	"HIGH":                func(c opensslCipher) bool { return c.enc != "None" },
	"COMPLEMENTOFALL":     func(c opensslCipher) bool { return c.enc == "None" },
	"eNULL":               func(c opensslCipher) bool { return c.enc == "None" },
	"NULL":                func(c opensslCipher) bool { return c.enc == "None" },
	"COMPLEMENTOFDEFAULT": func(c opensslCipher) bool { return c.enc != "None" && !c.dflt },
	"kRSA":                func(c opensslCipher) bool { return c.kx == "RSA" },
	"RSA":                 func(c opensslCipher) bool { return c.kx == "RSA" },
	"aRSA":                func(c opensslCipher) bool { return c.au == "RSA" },
	"kDHE":                func(c opensslCipher) bool { return c.kx == "DH" },
	"kEDH":                func(c opensslCipher) bool { return c.kx == "DH" },
	"DH":                  func(c opensslCipher) bool { return c.kx == "DH" },
	"DHE":                 func(c opensslCipher) bool { return c.kx == "DH" && c.au != "None" },
	"EDH":                 func(c opensslCipher) bool { return c.kx == "DH" && c.au != "None" },
	"ADH":                 func(c opensslCipher) bool { return c.kx == "DH" && c.au == "None" },
	"kECDHE":              func(c opensslCipher) bool { return c.kx == "ECDH" },
	"kEECDH":              func(c opensslCipher) bool { return c.kx == "ECDH" },
	"ECDH":                func(c opensslCipher) bool { return c.kx == "ECDH" },
	"ECDHE":               func(c opensslCipher) bool { return c.kx == "ECDH" && c.au != "None" },
	"EECDH":               func(c opensslCipher) bool { return c.kx == "ECDH" && c.au != "None" },
	"AECDH":               func(c opensslCipher) bool { return c.kx == "ECDH" && c.au == "None" },
	"aNULL":               func(c opensslCipher) bool { return c.au == "None" },
	"aECDSA":              func(c opensslCipher) bool { return c.au == "ECDSA" },
	"ECDSA":               func(c opensslCipher) bool { return c.au == "ECDSA" },
	"aDSS":                func(c opensslCipher) bool { return c.au == "DSS" },
	"DSS":                 func(c opensslCipher) bool { return c.au == "DSS" },
	"kPSK":                func(c opensslCipher) bool { return c.kx == "PSK" },
	"kECDHEPSK":           func(c opensslCipher) bool { return c.kx == "ECDHEPSK" },
	"kDHEPSK":             func(c opensslCipher) bool { return c.kx == "DHEPSK" },
	"kRSAPSK":             func(c opensslCipher) bool { return c.kx == "RSAPSK" },
	"PSK":                 func(c opensslCipher) bool { return strings.HasSuffix(c.kx, "PSK") },
	"aPSK":                func(c opensslCipher) bool { return c.au == "PSK" },
	"SRP":                 func(c opensslCipher) bool { return c.kx == "SRP" },
	"kSRP":                func(c opensslCipher) bool { return c.kx == "SRP" },
	"aSRP":                func(c opensslCipher) bool { return c.au == "SRP" },
	"TLSv1.2":             func(c opensslCipher) bool { return c.proto == "TLSv1.2" },
	"TLSv1.0":             func(c opensslCipher) bool { return c.proto == "TLSv1" },
	"TLSv1":               func(c opensslCipher) bool { return c.proto == "TLSv1" },
	"SSLv3":               func(c opensslCipher) bool { return c.proto == "SSLv3" },
	"AES":                 func(c opensslCipher) bool { return strings.HasPrefix(c.enc, "AES") },
	"AES128": func(c opensslCipher) bool {
		return strings.HasPrefix(c.enc, "AES") && strings.HasSuffix(c.enc, "(128)")
	},
	"AES256": func(c opensslCipher) bool {
		return strings.HasPrefix(c.enc, "AES") && strings.HasSuffix(c.enc, "(256)")
	},
	"AESGCM":  func(c opensslCipher) bool { return strings.HasPrefix(c.enc, "AESGCM") },
	"AESCCM":  func(c opensslCipher) bool { return strings.HasPrefix(c.enc, "AESCCM") },
	"AESCCM8": func(c opensslCipher) bool { return strings.HasPrefix(c.enc, "AESCCM8") },
	"ARIA":    func(c opensslCipher) bool { return strings.HasPrefix(c.enc, "ARIA") },
	"ARIAGCM": func(c opensslCipher) bool { return strings.HasPrefix(c.enc, "ARIAGCM") },
	"ARIA128": func(c opensslCipher) bool {
		return strings.HasPrefix(c.enc, "ARIA") && strings.HasSuffix(c.enc, "(128)")
	},
	"ARIA256": func(c opensslCipher) bool {
		return strings.HasPrefix(c.enc, "ARIA") && strings.HasSuffix(c.enc, "(256)")
	},
	"CAMELLIA":    func(c opensslCipher) bool { return strings.HasPrefix(c.enc, "Camellia") },
	"CAMELLIA128": func(c opensslCipher) bool { return c.enc == "Camellia(128)" },
	"CAMELLIA256": func(c opensslCipher) bool { return c.enc == "Camellia(256)" },
	"CHACHA20":    func(c opensslCipher) bool { return strings.HasPrefix(c.enc, "CHACHA20") },
	"CBC":         func(c opensslCipher) bool { return c.mac != "AEAD" && c.enc != "None" },
	"MD5":         func(c opensslCipher) bool { return c.mac == "MD5" },
	"SHA1":        func(c opensslCipher) bool { return c.mac == "SHA1" },
	"SHA":         func(c opensslCipher) bool { return c.mac == "SHA1" },
	"SHA256":      func(c opensslCipher) bool { return c.mac == "SHA256" },
	"SHA384":      func(c opensslCipher) bool { return c.mac == "SHA384" },
}

// opensslCipherMatch returns the suites one element of a cipher list
// selects: a suite name, or keywords joined by "+" (all must hold). An
// unknown word selects nothing, as in OpenSSL.
func opensslCipherMatch(elem string) []int {
	var out []int
	for i, c := range opensslCiphers {
		if c.name == elem {
			return []int{i}
		}
	}
	parts := strings.Split(elem, "+")
	for i, c := range opensslCiphers {
		ok := true
		for _, p := range parts {
			if f := opensslAliases[p]; f == nil || !f(c) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, i)
		}
	}
	return out
}

// opensslDefaultList is what "DEFAULT" at the start of a list stands for in
// OpenSSL 3.0; anywhere else the word selects nothing.
const opensslDefaultList = "ALL:!COMPLEMENTOFDEFAULT:!eNULL"

// opensslCipherList evaluates a cipher list the way
// SSL_CTX_set_cipher_list does, over TLSv1.2-and-older suites: elements are
// separated by ":", ",", ";" or spaces; a plain element adds suites, "-"
// removes them, "!" removes them for good, "+" moves them to the end;
// "@STRENGTH" and "@SECLEVEL=n" do not change which suites are in. The
// result is in list order; empty means "no cipher match".
func opensslCipherList(list string) []opensslCipher {
	if v, ok := cipherListCache.Load(list); ok {
		return v.([]opensslCipher)
	}
	out := evalCipherList(list)
	cipherListCache.Store(list, out)
	return out
}

// goSuiteIDs maps Go's suite names to their ids.
var goSuiteIDs = func() map[string]uint16 {
	ids := map[string]uint16{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids[s.Name] = s.ID
	}
	return ids
}()

// cipherListCache holds evaluated cipher lists: a config names the same
// few lists in thousands of servers. Callers must not modify the result.
var cipherListCache sync.Map

func evalCipherList(list string) []opensslCipher {
	if rest, ok := strings.CutPrefix(list, "DEFAULT"); ok {
		list = opensslDefaultList + ":" + rest
	}
	var active []int
	banned := map[int]bool{}
	in := func(i int) bool {
		for _, a := range active {
			if a == i {
				return true
			}
		}
		return false
	}
	remove := func(set []int) {
		drop := map[int]bool{}
		for _, i := range set {
			drop[i] = true
		}
		kept := active[:0]
		for _, a := range active {
			if !drop[a] {
				kept = append(kept, a)
			}
		}
		active = kept
	}
	for _, elem := range strings.FieldsFunc(list, func(r rune) bool { return strings.ContainsRune(":,; ", r) }) {
		op := byte(0)
		if strings.ContainsRune("!-+", rune(elem[0])) {
			op, elem = elem[0], elem[1:]
		}
		elem, _, _ = strings.Cut(elem, "@") // "@STRENGTH", "DEFAULT@SECLEVEL=2"
		if elem == "" {
			continue
		}
		set := opensslCipherMatch(elem)
		switch op {
		case 0:
			for _, i := range set {
				if !banned[i] && !in(i) {
					active = append(active, i)
				}
			}
		case '-':
			remove(set)
		case '!':
			remove(set)
			for _, i := range set {
				banned[i] = true
			}
		case '+':
			var moved []int
			for _, i := range set {
				if in(i) {
					moved = append(moved, i)
				}
			}
			remove(moved)
			active = append(active, moved...)
		}
	}
	out := make([]opensslCipher, len(active))
	for k, i := range active {
		out[k] = opensslCiphers[i]
	}
	return out
}

// opensslToGo names the OpenSSL suites Go's crypto/tls implements.
var opensslToGo = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
}

// goCipherSuites maps OpenSSL suites to the crypto/tls suite IDs Go has,
// in the same order, leaving out the ones Go does not implement.
func goCipherSuites(list []opensslCipher) []uint16 {
	var out []uint16
	for _, c := range list {
		if id, ok := goSuiteIDs[opensslToGo[c.name]]; ok {
			out = append(out, id)
		}
	}
	return out
}

// opensslCipherTable is the output of
//
//	openssl ciphers -v 'ALL:COMPLEMENTOFALL'
//
// from OpenSSL 3.0 without the TLSv1.3 suites, reduced to name, protocol,
// Kx, Au, Enc and Mac, with "D" on the suites "openssl ciphers DEFAULT"
// lists. The TLSv1.3 suites are not set through cipher lists.
const opensslCipherTable = `
ECDHE-ECDSA-AES256-GCM-SHA384 TLSv1.2 ECDH ECDSA AESGCM(256) AEAD D
ECDHE-RSA-AES256-GCM-SHA384 TLSv1.2 ECDH RSA AESGCM(256) AEAD D
DHE-DSS-AES256-GCM-SHA384 TLSv1.2 DH DSS AESGCM(256) AEAD
DHE-RSA-AES256-GCM-SHA384 TLSv1.2 DH RSA AESGCM(256) AEAD D
ECDHE-ECDSA-CHACHA20-POLY1305 TLSv1.2 ECDH ECDSA CHACHA20/POLY1305(256) AEAD D
ECDHE-RSA-CHACHA20-POLY1305 TLSv1.2 ECDH RSA CHACHA20/POLY1305(256) AEAD D
DHE-RSA-CHACHA20-POLY1305 TLSv1.2 DH RSA CHACHA20/POLY1305(256) AEAD D
ECDHE-ECDSA-AES256-CCM8 TLSv1.2 ECDH ECDSA AESCCM8(256) AEAD
ECDHE-ECDSA-AES256-CCM TLSv1.2 ECDH ECDSA AESCCM(256) AEAD
DHE-RSA-AES256-CCM8 TLSv1.2 DH RSA AESCCM8(256) AEAD
DHE-RSA-AES256-CCM TLSv1.2 DH RSA AESCCM(256) AEAD
ECDHE-ECDSA-ARIA256-GCM-SHA384 TLSv1.2 ECDH ECDSA ARIAGCM(256) AEAD
ECDHE-ARIA256-GCM-SHA384 TLSv1.2 ECDH RSA ARIAGCM(256) AEAD
DHE-DSS-ARIA256-GCM-SHA384 TLSv1.2 DH DSS ARIAGCM(256) AEAD
DHE-RSA-ARIA256-GCM-SHA384 TLSv1.2 DH RSA ARIAGCM(256) AEAD
ADH-AES256-GCM-SHA384 TLSv1.2 DH None AESGCM(256) AEAD
ECDHE-ECDSA-AES128-GCM-SHA256 TLSv1.2 ECDH ECDSA AESGCM(128) AEAD D
ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ECDH RSA AESGCM(128) AEAD D
DHE-DSS-AES128-GCM-SHA256 TLSv1.2 DH DSS AESGCM(128) AEAD
DHE-RSA-AES128-GCM-SHA256 TLSv1.2 DH RSA AESGCM(128) AEAD D
ECDHE-ECDSA-AES128-CCM8 TLSv1.2 ECDH ECDSA AESCCM8(128) AEAD
ECDHE-ECDSA-AES128-CCM TLSv1.2 ECDH ECDSA AESCCM(128) AEAD
DHE-RSA-AES128-CCM8 TLSv1.2 DH RSA AESCCM8(128) AEAD
DHE-RSA-AES128-CCM TLSv1.2 DH RSA AESCCM(128) AEAD
ECDHE-ECDSA-ARIA128-GCM-SHA256 TLSv1.2 ECDH ECDSA ARIAGCM(128) AEAD
ECDHE-ARIA128-GCM-SHA256 TLSv1.2 ECDH RSA ARIAGCM(128) AEAD
DHE-DSS-ARIA128-GCM-SHA256 TLSv1.2 DH DSS ARIAGCM(128) AEAD
DHE-RSA-ARIA128-GCM-SHA256 TLSv1.2 DH RSA ARIAGCM(128) AEAD
ADH-AES128-GCM-SHA256 TLSv1.2 DH None AESGCM(128) AEAD
ECDHE-ECDSA-AES256-SHA384 TLSv1.2 ECDH ECDSA AES(256) SHA384 D
ECDHE-RSA-AES256-SHA384 TLSv1.2 ECDH RSA AES(256) SHA384 D
DHE-RSA-AES256-SHA256 TLSv1.2 DH RSA AES(256) SHA256 D
DHE-DSS-AES256-SHA256 TLSv1.2 DH DSS AES(256) SHA256
ECDHE-ECDSA-CAMELLIA256-SHA384 TLSv1.2 ECDH ECDSA Camellia(256) SHA384
ECDHE-RSA-CAMELLIA256-SHA384 TLSv1.2 ECDH RSA Camellia(256) SHA384
DHE-RSA-CAMELLIA256-SHA256 TLSv1.2 DH RSA Camellia(256) SHA256
DHE-DSS-CAMELLIA256-SHA256 TLSv1.2 DH DSS Camellia(256) SHA256
ADH-AES256-SHA256 TLSv1.2 DH None AES(256) SHA256
ADH-CAMELLIA256-SHA256 TLSv1.2 DH None Camellia(256) SHA256
ECDHE-ECDSA-AES128-SHA256 TLSv1.2 ECDH ECDSA AES(128) SHA256 D
ECDHE-RSA-AES128-SHA256 TLSv1.2 ECDH RSA AES(128) SHA256 D
DHE-RSA-AES128-SHA256 TLSv1.2 DH RSA AES(128) SHA256 D
DHE-DSS-AES128-SHA256 TLSv1.2 DH DSS AES(128) SHA256
ECDHE-ECDSA-CAMELLIA128-SHA256 TLSv1.2 ECDH ECDSA Camellia(128) SHA256
ECDHE-RSA-CAMELLIA128-SHA256 TLSv1.2 ECDH RSA Camellia(128) SHA256
DHE-RSA-CAMELLIA128-SHA256 TLSv1.2 DH RSA Camellia(128) SHA256
DHE-DSS-CAMELLIA128-SHA256 TLSv1.2 DH DSS Camellia(128) SHA256
ADH-AES128-SHA256 TLSv1.2 DH None AES(128) SHA256
ADH-CAMELLIA128-SHA256 TLSv1.2 DH None Camellia(128) SHA256
ECDHE-ECDSA-AES256-SHA TLSv1 ECDH ECDSA AES(256) SHA1 D
ECDHE-RSA-AES256-SHA TLSv1 ECDH RSA AES(256) SHA1 D
DHE-RSA-AES256-SHA SSLv3 DH RSA AES(256) SHA1 D
DHE-DSS-AES256-SHA SSLv3 DH DSS AES(256) SHA1
DHE-RSA-CAMELLIA256-SHA SSLv3 DH RSA Camellia(256) SHA1
DHE-DSS-CAMELLIA256-SHA SSLv3 DH DSS Camellia(256) SHA1
AECDH-AES256-SHA TLSv1 ECDH None AES(256) SHA1
ADH-AES256-SHA SSLv3 DH None AES(256) SHA1
ADH-CAMELLIA256-SHA SSLv3 DH None Camellia(256) SHA1
ECDHE-ECDSA-AES128-SHA TLSv1 ECDH ECDSA AES(128) SHA1 D
ECDHE-RSA-AES128-SHA TLSv1 ECDH RSA AES(128) SHA1 D
DHE-RSA-AES128-SHA SSLv3 DH RSA AES(128) SHA1 D
DHE-DSS-AES128-SHA SSLv3 DH DSS AES(128) SHA1
DHE-RSA-CAMELLIA128-SHA SSLv3 DH RSA Camellia(128) SHA1
DHE-DSS-CAMELLIA128-SHA SSLv3 DH DSS Camellia(128) SHA1
AECDH-AES128-SHA TLSv1 ECDH None AES(128) SHA1
ADH-AES128-SHA SSLv3 DH None AES(128) SHA1
ADH-CAMELLIA128-SHA SSLv3 DH None Camellia(128) SHA1
RSA-PSK-AES256-GCM-SHA384 TLSv1.2 RSAPSK RSA AESGCM(256) AEAD D
DHE-PSK-AES256-GCM-SHA384 TLSv1.2 DHEPSK PSK AESGCM(256) AEAD D
RSA-PSK-CHACHA20-POLY1305 TLSv1.2 RSAPSK RSA CHACHA20/POLY1305(256) AEAD D
DHE-PSK-CHACHA20-POLY1305 TLSv1.2 DHEPSK PSK CHACHA20/POLY1305(256) AEAD D
ECDHE-PSK-CHACHA20-POLY1305 TLSv1.2 ECDHEPSK PSK CHACHA20/POLY1305(256) AEAD D
DHE-PSK-AES256-CCM8 TLSv1.2 DHEPSK PSK AESCCM8(256) AEAD
DHE-PSK-AES256-CCM TLSv1.2 DHEPSK PSK AESCCM(256) AEAD
RSA-PSK-ARIA256-GCM-SHA384 TLSv1.2 RSAPSK RSA ARIAGCM(256) AEAD
DHE-PSK-ARIA256-GCM-SHA384 TLSv1.2 DHEPSK PSK ARIAGCM(256) AEAD
AES256-GCM-SHA384 TLSv1.2 RSA RSA AESGCM(256) AEAD D
AES256-CCM8 TLSv1.2 RSA RSA AESCCM8(256) AEAD
AES256-CCM TLSv1.2 RSA RSA AESCCM(256) AEAD
ARIA256-GCM-SHA384 TLSv1.2 RSA RSA ARIAGCM(256) AEAD
PSK-AES256-GCM-SHA384 TLSv1.2 PSK PSK AESGCM(256) AEAD D
PSK-CHACHA20-POLY1305 TLSv1.2 PSK PSK CHACHA20/POLY1305(256) AEAD D
PSK-AES256-CCM8 TLSv1.2 PSK PSK AESCCM8(256) AEAD
PSK-AES256-CCM TLSv1.2 PSK PSK AESCCM(256) AEAD
PSK-ARIA256-GCM-SHA384 TLSv1.2 PSK PSK ARIAGCM(256) AEAD
RSA-PSK-AES128-GCM-SHA256 TLSv1.2 RSAPSK RSA AESGCM(128) AEAD D
DHE-PSK-AES128-GCM-SHA256 TLSv1.2 DHEPSK PSK AESGCM(128) AEAD D
DHE-PSK-AES128-CCM8 TLSv1.2 DHEPSK PSK AESCCM8(128) AEAD
DHE-PSK-AES128-CCM TLSv1.2 DHEPSK PSK AESCCM(128) AEAD
RSA-PSK-ARIA128-GCM-SHA256 TLSv1.2 RSAPSK RSA ARIAGCM(128) AEAD
DHE-PSK-ARIA128-GCM-SHA256 TLSv1.2 DHEPSK PSK ARIAGCM(128) AEAD
AES128-GCM-SHA256 TLSv1.2 RSA RSA AESGCM(128) AEAD D
AES128-CCM8 TLSv1.2 RSA RSA AESCCM8(128) AEAD
AES128-CCM TLSv1.2 RSA RSA AESCCM(128) AEAD
ARIA128-GCM-SHA256 TLSv1.2 RSA RSA ARIAGCM(128) AEAD
PSK-AES128-GCM-SHA256 TLSv1.2 PSK PSK AESGCM(128) AEAD D
PSK-AES128-CCM8 TLSv1.2 PSK PSK AESCCM8(128) AEAD
PSK-AES128-CCM TLSv1.2 PSK PSK AESCCM(128) AEAD
PSK-ARIA128-GCM-SHA256 TLSv1.2 PSK PSK ARIAGCM(128) AEAD
AES256-SHA256 TLSv1.2 RSA RSA AES(256) SHA256 D
CAMELLIA256-SHA256 TLSv1.2 RSA RSA Camellia(256) SHA256
AES128-SHA256 TLSv1.2 RSA RSA AES(128) SHA256 D
CAMELLIA128-SHA256 TLSv1.2 RSA RSA Camellia(128) SHA256
ECDHE-PSK-AES256-CBC-SHA384 TLSv1 ECDHEPSK PSK AES(256) SHA384 D
ECDHE-PSK-AES256-CBC-SHA TLSv1 ECDHEPSK PSK AES(256) SHA1 D
SRP-DSS-AES-256-CBC-SHA SSLv3 SRP DSS AES(256) SHA1
SRP-RSA-AES-256-CBC-SHA SSLv3 SRP RSA AES(256) SHA1 D
SRP-AES-256-CBC-SHA SSLv3 SRP SRP AES(256) SHA1 D
RSA-PSK-AES256-CBC-SHA384 TLSv1 RSAPSK RSA AES(256) SHA384 D
DHE-PSK-AES256-CBC-SHA384 TLSv1 DHEPSK PSK AES(256) SHA384 D
RSA-PSK-AES256-CBC-SHA SSLv3 RSAPSK RSA AES(256) SHA1 D
DHE-PSK-AES256-CBC-SHA SSLv3 DHEPSK PSK AES(256) SHA1 D
ECDHE-PSK-CAMELLIA256-SHA384 TLSv1 ECDHEPSK PSK Camellia(256) SHA384
RSA-PSK-CAMELLIA256-SHA384 TLSv1 RSAPSK RSA Camellia(256) SHA384
DHE-PSK-CAMELLIA256-SHA384 TLSv1 DHEPSK PSK Camellia(256) SHA384
AES256-SHA SSLv3 RSA RSA AES(256) SHA1 D
CAMELLIA256-SHA SSLv3 RSA RSA Camellia(256) SHA1
PSK-AES256-CBC-SHA384 TLSv1 PSK PSK AES(256) SHA384 D
PSK-AES256-CBC-SHA SSLv3 PSK PSK AES(256) SHA1 D
PSK-CAMELLIA256-SHA384 TLSv1 PSK PSK Camellia(256) SHA384
ECDHE-PSK-AES128-CBC-SHA256 TLSv1 ECDHEPSK PSK AES(128) SHA256 D
ECDHE-PSK-AES128-CBC-SHA TLSv1 ECDHEPSK PSK AES(128) SHA1 D
SRP-DSS-AES-128-CBC-SHA SSLv3 SRP DSS AES(128) SHA1
SRP-RSA-AES-128-CBC-SHA SSLv3 SRP RSA AES(128) SHA1 D
SRP-AES-128-CBC-SHA SSLv3 SRP SRP AES(128) SHA1 D
RSA-PSK-AES128-CBC-SHA256 TLSv1 RSAPSK RSA AES(128) SHA256 D
DHE-PSK-AES128-CBC-SHA256 TLSv1 DHEPSK PSK AES(128) SHA256 D
RSA-PSK-AES128-CBC-SHA SSLv3 RSAPSK RSA AES(128) SHA1 D
DHE-PSK-AES128-CBC-SHA SSLv3 DHEPSK PSK AES(128) SHA1 D
ECDHE-PSK-CAMELLIA128-SHA256 TLSv1 ECDHEPSK PSK Camellia(128) SHA256
RSA-PSK-CAMELLIA128-SHA256 TLSv1 RSAPSK RSA Camellia(128) SHA256
DHE-PSK-CAMELLIA128-SHA256 TLSv1 DHEPSK PSK Camellia(128) SHA256
AES128-SHA SSLv3 RSA RSA AES(128) SHA1 D
CAMELLIA128-SHA SSLv3 RSA RSA Camellia(128) SHA1
PSK-AES128-CBC-SHA256 TLSv1 PSK PSK AES(128) SHA256 D
PSK-AES128-CBC-SHA SSLv3 PSK PSK AES(128) SHA1 D
PSK-CAMELLIA128-SHA256 TLSv1 PSK PSK Camellia(128) SHA256
ECDHE-ECDSA-NULL-SHA TLSv1 ECDH ECDSA None SHA1
ECDHE-RSA-NULL-SHA TLSv1 ECDH RSA None SHA1
AECDH-NULL-SHA TLSv1 ECDH None None SHA1
NULL-SHA256 TLSv1.2 RSA RSA None SHA256
ECDHE-PSK-NULL-SHA384 TLSv1 ECDHEPSK PSK None SHA384
ECDHE-PSK-NULL-SHA256 TLSv1 ECDHEPSK PSK None SHA256
ECDHE-PSK-NULL-SHA TLSv1 ECDHEPSK PSK None SHA1
RSA-PSK-NULL-SHA384 TLSv1 RSAPSK RSA None SHA384
RSA-PSK-NULL-SHA256 TLSv1 RSAPSK RSA None SHA256
DHE-PSK-NULL-SHA384 TLSv1 DHEPSK PSK None SHA384
DHE-PSK-NULL-SHA256 TLSv1 DHEPSK PSK None SHA256
RSA-PSK-NULL-SHA SSLv3 RSAPSK RSA None SHA1
DHE-PSK-NULL-SHA SSLv3 DHEPSK PSK None SHA1
NULL-SHA SSLv3 RSA RSA None SHA1
NULL-MD5 SSLv3 RSA RSA None MD5
PSK-NULL-SHA384 TLSv1 PSK PSK None SHA384
PSK-NULL-SHA256 TLSv1 PSK PSK None SHA256
PSK-NULL-SHA SSLv3 PSK PSK None SHA1
`
