package script

import (
	"strings"
	"testing"

	"github.com/zonesync/zonesync/directives"
)

type env map[string]string

func (e env) Var(name string) string { return e[name] }
func (e env) Capture(n int) string   { return e[string(rune('0'+n))] }

func TestCompile(t *testing.T) {
	e := env{"host": "h", "uri": "/u", "name_1": "n", "1": "one", "9": "nine"}
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"$host$uri", "h/u"},
		{"${host}name", "hname"},
		{"$HOST", "h"},
		{"a$1b$9c", "aonebninec"},
		{"$10", "one0"},
		{"$name_1-", "n-"},
		{"cost: 5$", "cost: 5$"},
		{"$missing|", "|"},
	} {
		if got := Compile(c.in).Eval(e); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
	if !Compile("a b").Static() || Compile("$a").Static() {
		t.Error("Static")
	}
	if got := strings.Join(Compile("$a${b}$1$c").Names(), ","); got != "a,b,c" {
		t.Errorf("Names: %s", got)
	}
	got := Compile(`"$a" $1`).Expand(env{"a": `x"y`, "1": `"`}, func(_, v string) string { return strings.ReplaceAll(v, `"`, `\x22`) })
	if got != `"x\x22y" "` {
		t.Errorf("Expand: %s", got)
	}
}

func TestTruthy(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "00": true, "1": true, "no": true} {
		if Truthy(v) != want {
			t.Errorf("Truthy(%q) = %t", v, !want)
		}
	}
}

func TestHostnames(t *testing.T) {
	var h Hostnames[string]
	for _, n := range []string{"example.com", "*.example.com", "*.deep.example.com", ".dot.org", "mail.*", "mail.example.*", "*.example.com"} {
		h.Add(n, n, true)
	}
	h.Add("example.com", "second", true)
	for host, want := range map[string]string{
		"example.com":            "example.com",
		"www.example.com":        "*.example.com",
		"a.deep.example.com":     "*.deep.example.com",
		"deep.example.com":       "*.example.com",
		"dot.org":                ".dot.org",
		"x.y.dot.org":            ".dot.org",
		"mail.net":               "mail.*",
		"mail.example.co.uk":     "mail.example.*",
		"mail":                   "",
		"other.org":              "",
		"example.com.example.fr": "",
	} {
		got, _ := h.Find(host)
		if got != want {
			t.Errorf("%s: %q, want %q", host, got, want)
		}
	}
}

func TestRegex(t *testing.T) {
	re, err := NewRegex(`^/(?<first>[a-z]+)/(\d+)`, true)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := re.Exec("/ABC/42/x")
	if !ok || m.Capture(1) != "ABC" || m.Capture(2) != "42" || m.Capture(3) != "" || m.Named["first"] != "ABC" {
		t.Fatalf("%v %v", m, ok)
	}
	if _, err := NewRegex(`(?<=a)b`, false); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("lookbehind: %v", err)
	}
}

func TestMap(t *testing.T) {
	m, err := NewMap(&directives.Map{Source: "$k", Var: "V", Default: "def", Hostnames: true, Entries: []directives.MapEntry{
		{Key: "exact.com", Value: "exact"},
		{Key: "*.wild.com", Value: "wild"},
		{Key: `^re(\d)$`, Value: "re$1", Regex: true},
		{Key: `^CI`, Value: "ci", Regex: true, Caseless: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"exact.com": "exact", "EXACT.COM.": "exact", "a.wild.com": "wild", "re7": "re7", "cix": "ci", "none": "def",
	} {
		v, re, match := m.Find(key)
		e := env{}
		if re != nil {
			e["1"] = match.Capture(1)
		}
		if got := v.Eval(e); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	if m.Var != "v" {
		t.Errorf("Var %q", m.Var)
	}
}
