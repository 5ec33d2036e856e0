package httpd

import "testing"

func TestNormalizeURI(t *testing.T) {
	for _, c := range []struct {
		raw, uri, args, exten string
		ok                    bool
	}{
		{"/", "/", "", "", true},
		{"/a/b.html?x=1&y", "/a/b.html", "x=1&y", "html", true},
		{"/a//b///c", "/a/b/c", "", "", true},
		{"/a/./b/../c", "/a/c", "", "", true},
		{"/a/..", "/", "", "", true},
		{"/a/.", "/a/", "", "", true},
		{"/..", "", "", "", false},
		{"/a/../..", "", "", "", false},
		{"/a%2Fb/%2e%2e/c", "/a/c", "", "", true},
		{"/a%3Fb%23c%25d", "/a?b#c%d", "", "", true},
		{"/a%20b", "/a b", "", "", true},
		{"/a%00", "", "", "", false},
		{"/a%zz", "", "", "", false},
		{"/a%2", "", "", "", false},
		{"/x#frag", "/x", "", "", true},
		{"/x?a#frag", "/x", "a", "", true},
		{"/a.b/c", "/a.b/c", "", "", true},
		{"/.hidden", "/.hidden", "", "", true},
		{"/dir/file.tar.gz", "/dir/file.tar.gz", "", "gz", true},
		{"/a/..?q", "/", "q", "", true},
	} {
		uri, args, exten, ok := normalizeURI(c.raw, true)
		if ok != c.ok || ok && (uri != c.uri || args != c.args || exten != c.exten) {
			t.Errorf("%q: %q %q %q %t, want %q %q %q %t", c.raw, uri, args, exten, ok, c.uri, c.args, c.exten, c.ok)
		}
	}
	if uri, _, _, _ := normalizeURI("/a//b", false); uri != "/a//b" {
		t.Errorf("merge_slashes off: %q", uri)
	}
}

func TestValidateHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM":  "example.com",
		"a.test.:80":   "a.test",
		"[::1]:8080":   "[::1]",
		"[::1]":        "[::1]",
		"host:":        "host",
		"":             "!",
		":80":          "!",
		"a..b":         "!",
		"a/b":          "!",
		"a b":          "!",
		".":            "!",
		"x.example.":   "x.example",
		"127.0.0.1:80": "127.0.0.1",
	} {
		got, ok := validateHost(in)
		if !ok {
			got = "!"
		}
		if got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestParseRanges(t *testing.T) {
	for _, c := range []struct {
		spec string
		st   int
		want []byteRange
	}{
		{"0-3", rangeOK, []byteRange{{0, 4}}},
		{"-3", rangeOK, []byteRange{{8, 11}}},
		{"-30", rangeOK, []byteRange{{0, 11}}},
		{"5-", rangeOK, []byteRange{{5, 11}}},
		{" 1 - 2 ", rangeOK, []byteRange{{1, 3}}},
		{"0-1,3-4", rangeOK, []byteRange{{0, 2}, {3, 5}}},
		{"20-30", rangeUnsatisfiable, nil},
		{"x", rangeUnsatisfiable, nil},
		{"3-1", rangeUnsatisfiable, nil},
		{"0-5,0-10", rangeDeclined, nil},
	} {
		got, st := parseRanges(c.spec, 11)
		if st != c.st || len(got) != len(c.want) {
			t.Errorf("%q: %v %d, want %v %d", c.spec, got, st, c.want, c.st)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q: %v, want %v", c.spec, got, c.want)
			}
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string][2]int{
		"HTTP/1.1": {1, 1}, "HTTP/1.0": {1, 0}, "HTTP/1.10": {1, 10}, "HTTP/2.0": {2, 0},
		"HTTP/0.9": {-1}, "HTTP/1.100": {1, 100}, "HTTP/1.1000": {-1}, "http/1.1": {-1}, "HTTP/1": {-1}, "HTTP/1.": {-1},
	} {
		maj, min, ok := parseVersion(in)
		if !ok {
			maj = -1
			min = 0
		}
		if maj != want[0] || ok && min != want[1] {
			t.Errorf("%q: %d.%d %t", in, maj, min, ok)
		}
	}
}
