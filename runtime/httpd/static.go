package httpd

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/runtime/httpd/script"
)

// The index and static modules, for GET, HEAD and POST: a URI ending in
// "/" is answered by its first index file that exists (an internal
// redirect), else 403 (404 when the folder is missing); a file is sent with
// its type, Last-Modified, ETag and "Accept-Ranges: bytes"; a folder is
// redirected to its name with a "/"; If-Modified-Since (exact),
// If-None-Match, If-Unmodified-Since and If-Match are honoured. Range
// requests get the whole file.

var staticMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true}

// tryFiles is the try_files module (the precontent phase): the first file
// (or, with a final "/", folder) that exists becomes the URI; when none
// does, the last argument is a code, a named location or a URI to
// redirect to internally (its arguments are those it carries).
func (r *request) tryFiles() (stage, outcome) {
	tf := r.conf.st.TryFiles
	if tf == nil {
		return stageContent, outcome{}
	}
	for _, f := range tf.Files {
		name := script.Compile(f).Eval(r)
		testDir := strings.HasSuffix(f, "/")
		if testDir {
			name = strings.TrimSuffix(name, "/")
		}
		fi, err := os.Stat(r.filename(name))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) && !errors.Is(err, syscall.ENAMETOOLONG) {
				r.logAt(r.c.s.log.Error()).Msgf(`stat() "%s" failed (%s)`, r.filename(name), errnoText(err))
			}
			continue
		}
		if fi.IsDir() != testDir {
			continue
		}
		r.setURI(name)
		return stageContent, outcome{}
	}
	if tf.Code != 0 || strings.HasPrefix(tf.Last, "=") {
		return r.finalize(outcome{status: tf.Code})
	}
	last := script.Compile(tf.Last).Eval(r)
	if strings.HasPrefix(last, "@") {
		return r.namedLocation(last)
	}
	uri, args, _ := strings.Cut(last, "?")
	return r.internalRedirect(uri, args)
}

// serveIndex is ngx_http_index_handler.
func (r *request) serveIndex() (stage, outcome) {
	dir := r.filename(r.uri)
	for _, ix := range r.conf.index {
		name := ix.Eval(r)
		if strings.HasPrefix(name, "/") {
			u, args, _ := strings.Cut(name, "?")
			if args == "" {
				args = r.args
			}
			return r.internalRedirect(u, args)
		}
		if _, err := os.Stat(dir + name); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				r.logError().Msgf(`open() "%s" failed (%s)`, dir+name, errnoText(err))
				return r.finalize(outcome{status: 403})
			}
			continue
		}
		return r.internalRedirect(r.uri+name, r.args)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		if r.conf.logNotFound {
			r.logError().Msgf(`"%s" is not found (%s)`, dir, errnoText(err))
		}
		return r.finalize(outcome{status: 404})
	}
	r.logError().Msgf(`directory index of "%s" is forbidden`, dir)
	return r.finalize(outcome{status: 403})
}

// errnoText words an OS error as nginx: "2: No such file or directory".
func errnoText(err error) string {
	if err == nil {
		return "20: Not a directory"
	}
	return directives.ErrnoText(err)
}

// serveFile is ngx_http_static_handler.
func (r *request) serveFile() outcome {
	path := r.filename(r.uri)
	f, err := os.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ENAMETOOLONG):
			if r.conf.logNotFound {
				r.logError().Msgf(`open() "%s" failed (%s)`, path, errnoText(err))
			}
			return outcome{status: 404}
		case errors.Is(err, fs.ErrPermission):
			r.logError().Msgf(`open() "%s" failed (%s)`, path, errnoText(err))
			return outcome{status: 403}
		}
		r.logError().Msgf(`open() "%s" failed (%s)`, path, errnoText(err))
		return outcome{status: 500}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return outcome{status: 500}
	}
	if fi.IsDir() {
		f.Close()
		loc := r.uri + "/"
		if r.args != "" {
			loc += "?" + r.args
		}
		r.location = loc
		return outcome{status: 301}
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		r.logError().Msgf(`"%s" is not a regular file`, path)
		return outcome{status: 404}
	}
	if r.method == "POST" {
		f.Close()
		return outcome{status: 405}
	}
	mtime := fi.ModTime().Truncate(time.Second)
	etag := ""
	if r.conf.etag {
		etag = fmt.Sprintf(`"%x-%x"`, mtime.Unix(), fi.Size())
	}
	if st := r.notModified(mtime, etag); st != 0 {
		f.Close()
		if st != 304 {
			return outcome{status: st}
		}
		resp := newResponse(304)
		resp.lastModified = mtime
		if etag != "" {
			resp.addHeader("ETag", etag)
		}
		return outcome{resp: resp}
	}
	resp := newResponse(200)
	resp.contentType = r.contentType()
	resp.length = fi.Size()
	resp.lastModified = mtime
	if etag != "" {
		resp.addHeader("ETag", etag)
	}
	resp.acceptRanges = true
	resp.file = f
	return outcome{resp: resp}
}

// notModified is the not_modified filter: 412 for a failed
// If-Unmodified-Since or If-Match, 304 when If-Modified-Since and
// If-None-Match (those present) both say the client's copy is current.
func (r *request) notModified(mtime time.Time, etag string) int {
	if v, ok := r.headerValue("if-unmodified-since"); ok {
		if t, err := http.ParseTime(v); err == nil && mtime.After(t) {
			return 412
		}
	}
	if v, ok := r.headerValue("if-match"); ok && !etagMatch(v, etag, false) {
		return 412
	}
	ims, hasIMS := r.headerValue("if-modified-since")
	inm, hasINM := r.headerValue("if-none-match")
	if !hasIMS && !hasINM {
		return 0
	}
	if hasIMS {
		t, err := http.ParseTime(ims)
		if err != nil || !t.Equal(mtime) {
			return 0
		}
	}
	if hasINM && !etagMatch(inm, etag, true) {
		return 0
	}
	return 304
}

// etagMatch is ngx_http_test_if_match: "*", or one of a list of tags
// (weak ones too for If-None-Match).
func etagMatch(list, etag string, weak bool) bool {
	if etag == "" {
		return false
	}
	if strings.TrimSpace(list) == "*" {
		return true
	}
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if weak {
			t = strings.TrimPrefix(t, "W/")
		}
		if t == etag || weak && strings.TrimPrefix(etag, "W/") == t {
			return true
		}
	}
	return false
}

// Range results of parseRanges.
const (
	rangeDeclined = iota // serve the whole file
	rangeOK
	rangeUnsatisfiable
)

type byteRange struct{ start, end int64 } // end is exclusive

// parseRanges is ngx_http_range_parse on what follows "bytes=".
func parseRanges(spec string, size int64) ([]byteRange, int) {
	var out []byteRange
	var total int64
	p := spec
	skip := func() { p = strings.TrimLeft(p, " ") }
	num := func() (int64, bool) {
		i := 0
		var n int64
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			if n > (1<<63-1)/10 {
				return 0, false
			}
			n = n*10 + int64(p[i]-'0')
			i++
		}
		p = p[i:]
		return n, i > 0
	}
	for {
		var start, end int64
		skip()
		suffix := strings.HasPrefix(p, "-")
		open := false
		if !suffix {
			var ok bool
			if start, ok = num(); !ok {
				return nil, rangeUnsatisfiable
			}
			skip()
			if !strings.HasPrefix(p, "-") {
				return nil, rangeUnsatisfiable
			}
			p = p[1:]
			skip()
			if p == "" || p[0] == ',' {
				end, open = size, true
			}
		} else {
			p = p[1:]
		}
		if !open {
			var ok bool
			if end, ok = num(); !ok {
				return nil, rangeUnsatisfiable
			}
			skip()
			if p != "" && p[0] != ',' {
				return nil, rangeUnsatisfiable
			}
			if suffix {
				start = 0
				if end < size {
					start = size - end
				}
				end = size - 1
			}
			if end >= size {
				end = size
			} else {
				end++
			}
		}
		if start < end {
			out = append(out, byteRange{start, end})
			total += end - start
		} else if start == 0 {
			return nil, rangeDeclined
		}
		if p == "" {
			break
		}
		p = p[1:]
	}
	if len(out) == 0 {
		return nil, rangeUnsatisfiable
	}
	if total > size {
		return nil, rangeDeclined
	}
	return out, rangeOK
}

// rangeFilter is the range filter for a file answered with 200: one range
// gets 206 and Content-Range, an unsatisfiable one nginx's 416 page with
// "Content-Range: bytes */SIZE"; other requests (no Range, an If-Range
// that does not match, several ranges) get the whole file and
// "Accept-Ranges: bytes".
func (r *request) rangeFilter(resp *response) {
	spec, ok := r.headerValue("range")
	if !ok || len(spec) < 7 || !strings.EqualFold(spec[:6], "bytes=") || !r.ifRange(resp) {
		resp.addHeader("Accept-Ranges", "bytes")
		return
	}
	size := resp.length
	ranges, st := parseRanges(spec[6:], size)
	switch {
	case st == rangeUnsatisfiable:
		resp.file.Close()
		resp.file = nil
		var hs []header
		for _, h := range resp.headers {
			if h.name != "ETag" {
				hs = append(hs, h)
			}
		}
		resp.headers = hs
		resp.status, resp.special = 416, true
		resp.lastModified = time.Time{}
		resp.body = errorPages[416].body()
		resp.contentType, resp.length = "text/html", int64(len(resp.body))
		resp.addHeader("Content-Range", fmt.Sprintf("bytes */%d", size))
	case st == rangeOK && len(ranges) == 1:
		rg := ranges[0]
		if _, err := resp.file.Seek(rg.start, 0); err != nil {
			resp.addHeader("Accept-Ranges", "bytes")
			return
		}
		resp.status = 206
		resp.length = rg.end - rg.start
		resp.addHeader("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.end-1, size))
	default:
		resp.addHeader("Accept-Ranges", "bytes")
	}
}

// ifRange reports whether an If-Range (a date or an entity tag) matches.
func (r *request) ifRange(resp *response) bool {
	v, ok := r.headerValue("if-range")
	if !ok {
		return true
	}
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		for _, h := range resp.headers {
			if h.name == "ETag" {
				return h.value == v
			}
		}
		return false
	}
	t, err := http.ParseTime(v)
	return err == nil && t.Equal(resp.lastModified)
}
