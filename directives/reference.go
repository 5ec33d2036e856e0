package directives

import (
	_ "embed"
	"fmt"
	"io"
	"sort"
	"strings"
)

// contextDocNames are the context names nginx's documentation uses.
var contextDocNames = []struct {
	bit  Context
	name string
}{
	{Main, "main"}, {Events, "events"}, {HTTP, "http"}, {HTTPServer, "server"},
	{HTTPLocation, "location"}, {HTTPServerIf, "if in server"}, {HTTPLocationIf, "if in location"},
	{HTTPLimitExcept, "limit_except"}, {HTTPUpstream, "upstream"}, {HTTPOIDCProvider, "oidc_provider"},
	{Mail, "mail"}, {MailServer, "server"}, {Stream, "stream"}, {StreamServer, "server"},
	{StreamUpstream, "upstream"}, {Mgmt, "mgmt"},
}

// subsystemOf names the part of nginx a row belongs to, for grouping.
func subsystemOf(c Context) string {
	switch {
	case c&(Stream|StreamServer|StreamUpstream) != 0:
		return "stream"
	case c&(HTTP|HTTPServer|HTTPLocation|HTTPServerIf|HTTPLocationIf|HTTPLimitExcept|HTTPUpstream|HTTPOIDCProvider) != 0:
		return "http"
	case c&(Mail|MailServer) != 0:
		return "mail"
	case c&Events != 0:
		return "events"
	}
	return "main"
}

func docContexts(c Context) string {
	var names []string
	seen := map[string]bool{}
	for _, cn := range contextDocNames {
		if c&cn.bit != 0 && !seen[cn.name] {
			seen[cn.name] = true
			names = append(names, cn.name)
		}
	}
	return strings.Join(names, ", ")
}

// syntaxTSV holds the syntax lines of nginx's documentation for the
// directives zonesync runs: name, then the line.
//
//go:embed syntax.tsv
var syntaxTSV string

var syntaxLines = func() map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(syntaxTSV), "\n") {
		name, syntax, _ := strings.Cut(line, "\t")
		m[name] = syntax
	}
	return m
}()

// syntaxOf returns the directive's syntax line: the registered one, the
// documented one, or one built from its argument rule.
func syntaxOf(s *Spec) string {
	if s.Syntax != "" {
		return s.Syntax
	}
	if line := syntaxLines[s.Name]; line != "" {
		return line
	}
	var args string
	switch r := s.Args; {
	case r&Flag != 0:
		args = " on | off"
	case r&Any != 0:
		args = " ..."
	case r&OneMore != 0:
		args = " value ..."
	case r&TwoMore != 0:
		args = " value value ..."
	default:
		var counts []string
		for n := 0; n < maxArgs; n++ {
			if r&(Take0<<n) != 0 {
				counts = append(counts, fmt.Sprint(n))
			}
		}
		if len(counts) > 0 && counts[len(counts)-1] != "0" {
			args = " value (" + strings.Join(counts, " or ") + " arguments)"
		}
	}
	end := ";"
	if s.Args&Block != 0 {
		end = " { ... }"
	}
	return s.Name + args + end
}

// Reference writes the directive reference in Markdown: every directive
// zonesync gives a typed meaning, grouped by subsystem, with Syntax,
// Default, Context and description, followed by the count of the rest.
func Reference(w io.Writer) error {
	groups := map[string][]*Spec{}
	other := 0
	for _, rows := range table {
		for _, s := range rows {
			if !s.typed || s.Set == nil && s.Opens == 0 && s.Custom == nil {
				other++
				continue
			}
			g := subsystemOf(s.Contexts)
			groups[g] = append(groups[g], s)
		}
	}
	var b strings.Builder
	b.WriteString("# Directive reference\n\n")
	b.WriteString("Generated from the directive table (`go test ./directives -run TestReference -update`); do not edit.\n\n")
	b.WriteString("These are the directives zonesync gives a typed meaning: their values are parsed and checked as nginx checks them,\n")
	fmt.Fprintf(&b, "and the runtime reads them. The %d other rows of the table are checked for context, number of arguments and\n", other)
	b.WriteString("`on`/`off` (see [differences.md](differences.md)).\n")
	for _, g := range []string{"main", "events", "http", "stream", "mail"} {
		specs := groups[g]
		if len(specs) == 0 {
			continue
		}
		sort.Slice(specs, func(i, j int) bool {
			if specs[i].Name != specs[j].Name {
				return specs[i].Name < specs[j].Name
			}
			return specs[i].Contexts < specs[j].Contexts
		})
		fmt.Fprintf(&b, "\n## %s\n", g)
		for _, s := range specs {
			fmt.Fprintf(&b, "\n### %s\n\n", s.Name)
			fmt.Fprintf(&b, "| | |\n| --- | --- |\n")
			fmt.Fprintf(&b, "| Syntax | `%s` |\n", strings.ReplaceAll(syntaxOf(s), "|", "\\|"))
			def := "—"
			if s.DefaultDoc != "" {
				def = "`" + s.Name + " " + s.DefaultDoc + ";`"
			}
			fmt.Fprintf(&b, "| Default | %s |\n", strings.ReplaceAll(def, "|", "\\|"))
			fmt.Fprintf(&b, "| Context | %s |\n", docContexts(s.Contexts))
			if s.Avail != "oss" {
				fmt.Fprintf(&b, "| Origin | %s |\n", s.Avail)
			}
			if s.Doc != "" {
				fmt.Fprintf(&b, "\n%s\n", s.Doc)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
