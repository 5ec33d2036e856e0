package grammar

import (
	"io"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types as participle sees them.
const (
	tokWord lexer.TokenType = -2 - iota
	tokSemicolon
	tokBlockStart
	tokBlockEnd
	tokError
)

// Definition is the nginx lexer as a participle lexer.Definition.
var Definition lexer.Definition = definition{}

type definition struct{}

func (definition) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF":   lexer.EOF,
		"Word":  tokWord,
		";":     tokSemicolon,
		"{":     tokBlockStart,
		"}":     tokBlockEnd,
		"Error": tokError,
	}
}

func (d definition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexBytes(filename, src)
}

func (definition) LexBytes(filename string, src []byte) (lexer.Lexer, error) {
	mode := FileMode
	if filename == ParamFile {
		mode = ParamMode
	}
	return &tokenStream{lx: NewLexer(src, mode), filename: filename}, nil
}

func (d definition) LexString(filename string, src string) (lexer.Lexer, error) {
	return d.LexBytes(filename, []byte(src))
}

// tokenStream adapts Lexer to participle's lexer.Lexer. It never returns an
// error: a lexer error is an Error token, so that the parser can keep every
// statement read before it.
type tokenStream struct {
	lx       *Lexer
	filename string
}

var kindToType = [...]lexer.TokenType{
	EOF:        lexer.EOF,
	Word:       tokWord,
	Semicolon:  tokSemicolon,
	BlockStart: tokBlockStart,
	BlockEnd:   tokBlockEnd,
	ErrorToken: tokError,
}

var punctuation = [...]string{Semicolon: ";", BlockStart: "{", BlockEnd: "}", EOF: ""}

func (s *tokenStream) Next() (lexer.Token, error) {
	t := s.lx.Next()
	v := t.Value
	if t.Kind != Word && t.Kind != ErrorToken {
		v = punctuation[t.Kind]
	}
	return lexer.Token{
		Type:  kindToType[t.Kind],
		Value: v,
		Pos:   lexer.Position{Filename: s.filename, Line: t.Line},
	}, nil
}
