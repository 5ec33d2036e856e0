package grammar

import (
	"fmt"

	"github.com/alecthomas/participle/v2/lexer"
)

// File is one parsed configuration file (or the text of -g).
type File struct {
	Path   string
	Source []byte
	Body   Body `parser:"@@"`
}

// Body is the list of statements of a file or of a block.
//
// A syntax error stops nginx where it is found, after it has handled every
// statement before it. The tree keeps that order: Err, when set, happened
// after the last of Directives, so a caller that walks the tree meets every
// error in the order nginx would.
type Body struct {
	Directives []*Directive `parser:"@@*"`
	// Closed is set when the block's "}" was read (always false for a file).
	Closed bool
	// EndLine is the line of the "}" (or of the end of the file).
	EndLine int
	// Err is the syntax error that ended this body early, if any.
	Err *Error
}

// Directive is one statement: Name Args... followed by ";" or by a block.
type Directive struct {
	// Pos is where the name starts; Pos.Filename is the file as opened.
	Pos  lexer.Position
	Name string   `parser:"@Word"`
	Args []string `parser:"@Word*"`
	// Block is nil for a statement ended by ";".
	Block *Body `parser:"( \";\" | \"{\" @@ \"}\" )"`
	// Line is the line of the ";" or "{" that ended the statement: the line
	// nginx names in every message about this directive.
	Line int
}

// File returns the file name the directive was read from.
func (d *Directive) File() string { return d.Pos.Filename }

// IsBlock reports whether the statement was ended by "{".
func (d *Directive) IsBlock() bool { return d.Block != nil }

// Error is a configuration error with nginx's message and location.
type Error struct {
	Msg  string
	File string // "" for an error with no file context
	Line int
	// CommandLine marks an error in the -g text ("in command line").
	CommandLine bool
	// Level is the log level nginx reports the error at; "" means emerg.
	Level string
}

func (e *Error) Error() string {
	switch {
	case e.CommandLine:
		return e.Msg + " in command line"
	case e.File == "":
		return e.Msg
	}
	return fmt.Sprintf("%s in %s:%d", e.Msg, e.File, e.Line)
}

// Errorf returns an Error located at directive d, as ngx_conf_log_error
// locates a message raised while d is being handled.
func (d *Directive) Errorf(format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...), File: d.Pos.Filename, Line: d.Line}
	if d.Pos.Filename == ParamFile {
		e.File, e.CommandLine = "", true
	}
	return e
}

// ParamFile is the file name given to the text of the -g option.
const ParamFile = "<command line>"
