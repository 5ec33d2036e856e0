package grammar

import (
	"os"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar, as participle reads it from the struct tags of File, Body and
// Directive:
//
//	File      = Body .
//	Body      = Directive* .
//	Directive = Word Word* ( ";" | "{" Body "}" ) .
//
// Body implements participle.Parseable: participle hands it the token
// stream and Body.Parse applies the same rules directly, without reflection,
// because a large config has hundreds of thousands of statements. A test
// parses the whole conformance corpus with the purely declarative grammar as
// well and checks that both give the same tree.
var parser = participle.MustBuild[File](
	participle.Lexer(Definition),
	participle.UseLookahead(1),
)

// Parse parses the configuration text src read from path. It never fails:
// a syntax error is recorded in the tree at the point where nginx would
// stop (see Body.Err).
func Parse(path string, src []byte) *File {
	return parse(path, src, FileMode)
}

// ParseParam parses the text of the -g command line option.
func ParseParam(text string) *File {
	return parse(ParamFile, []byte(text), ParamMode)
}

func parse(path string, src []byte, mode Mode) *File {
	lex := &tokenStream{lx: NewLexer(src, mode), filename: path}
	peek, err := lexer.Upgrade(lex)
	if err == nil {
		var f *File
		f, err = parser.ParseFromLexer(peek)
		if err == nil {
			f.Path, f.Source = path, src
			return f
		}
	}
	// The token stream never fails and Body.Parse records every syntax
	// error in the tree, so this is a bug in the grammar itself.
	panic("grammar: " + err.Error())
}

// ReadFile reads and parses a configuration file.
func ReadFile(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src), nil
}

// Parse implements participle.Parseable for Body: the fast path of
// "Body = Directive*", at the top level of a file.
func (b *Body) Parse(lex *lexer.PeekingLexer) error {
	p := fastParser{lex: lex, param: lex.Peek().Pos.Filename == ParamFile}
	p.body(b, 0)
	// A syntax error ends the body where nginx stops; what follows is
	// never read, so it is dropped here for participle's end check.
	for !lex.Peek().EOF() {
		lex.Next()
	}
	return nil
}

type fastParser struct {
	lex   *lexer.PeekingLexer
	param bool
}

func (p *fastParser) syntaxError(t *lexer.Token, msg string) *Error {
	e := &Error{Msg: msg, File: t.Pos.Filename, Line: t.Pos.Line}
	if p.param {
		e.File, e.CommandLine = "", true
	}
	return e
}

// body reads statements until "}" (depth > 0), the end of the input or an
// error, with nginx's messages for a "}" or an end of file in the wrong place.
func (p *fastParser) body(b *Body, depth int) {
	for {
		t := p.lex.Next()
		switch t.Type {
		case tokWord:
			d := &Directive{Pos: t.Pos, Name: t.Value}
			if err := p.directive(d, depth); err != nil {
				b.Err = err
				return
			}
			b.Directives = append(b.Directives, d)
			if d.Block != nil && !d.Block.Closed {
				return // the error inside the block ends every outer body too
			}
		case tokBlockEnd:
			b.EndLine = t.Pos.Line
			if depth == 0 {
				b.Err = p.syntaxError(t, `unexpected "}"`)
				return
			}
			b.Closed = true
			return
		case tokError:
			b.Err = p.syntaxError(t, t.Value)
			return
		default: // EOF
			b.EndLine = t.Pos.Line
			if depth > 0 {
				b.Err = p.syntaxError(t, `unexpected end of file, expecting "}"`)
			}
			return
		}
	}
}

// directive reads the rest of a statement whose name is d.Name. A statement
// that does not end in ";" or "{" is never handled by nginx, so an error here
// belongs to the enclosing body, not to d.
func (p *fastParser) directive(d *Directive, depth int) *Error {
	for {
		t := p.lex.Next()
		switch t.Type {
		case tokWord:
			d.Args = append(d.Args, t.Value)
		case tokSemicolon:
			d.Line = t.Pos.Line
			return nil
		case tokBlockStart:
			if p.param {
				return p.syntaxError(t, "block directives are not supported in -g option")
			}
			d.Line = t.Pos.Line
			d.Block = &Body{}
			p.body(d.Block, depth+1)
			return nil
		default: // only an Error can come here: the lexer checks the rest
			return p.syntaxError(t, t.Value)
		}
	}
}
