// Package grammar reads nginx configuration text into a tree of directives.
//
// The lexer reproduces nginx's ngx_conf_read_token byte for byte: the same
// token boundaries, escape decoding, 4096-byte token limit, line counting and
// error texts. The tree is declared as a participle grammar (see grammar.go)
// and built by a hand-written fast path that participle calls through its
// Parseable hook.
package grammar

import (
	"fmt"
)

// Kind is the type of a token.
type Kind int

// Token kinds. Word values are already decoded (quotes removed, escapes
// applied), as nginx stores them in cf->args.
const (
	EOF Kind = iota
	Word
	Semicolon
	BlockStart
	BlockEnd
	// ErrorToken carries a lexer error: Value is nginx's message and Line the line
	// nginx reports it at. Nothing follows an Error token but EOF.
	ErrorToken
)

func (k Kind) String() string {
	switch k {
	case EOF:
		return "EOF"
	case Word:
		return "Word"
	case Semicolon:
		return `";"`
	case BlockStart:
		return `"{"`
	case BlockEnd:
		return `"}"`
	case ErrorToken:
		return "Error"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// bufferSize is NGX_CONF_BUFFER: nginx reads a file through a buffer of this
// size, and a token that does not fit in it is an error.
const bufferSize = 4096

// Token is one lexical token.
type Token struct {
	Kind  Kind
	Value string
	// Line is where the token is reported: for a word, the line it starts
	// on; for ";", "{", "}" and errors, nginx's line counter at that point.
	Line int
	// Quoted is set for a word that was written in quotes.
	Quoted bool
}

// Mode selects which of nginx's three parse modes the text is read in.
type Mode int

const (
	// FileMode reads a configuration file.
	FileMode Mode = iota
	// ParamMode reads the text of the -g command line option.
	ParamMode
)

// Lexer splits configuration text into tokens. It is synchronous: each call
// to Next runs nginx's state machine until one token is complete.
type Lexer struct {
	src  []byte
	pos  int // next byte to read
	line int
	mode Mode

	// last is the offset up to which nginx's 4096-byte buffer has been
	// filled; it decides when a long token is "too long".
	last int

	// The state of one ngx_conf_read_token call, which reads a whole
	// statement; it lives across the words of that statement.
	inStatement  bool
	words        int // cf->args->nelts
	start        int
	startLine    int
	lastSpace    bool
	needSpace    bool
	sharpComment bool
	variable     bool
	quoted       bool
	sQuoted      bool
	dQuoted      bool

	// pending holds a statement terminator found right after a word: nginx
	// stores the word and returns the terminator in one step.
	pending Token
	done    bool
}

// NewLexer returns a lexer over src.
func NewLexer(src []byte, mode Mode) *Lexer {
	return &Lexer{src: src, line: 1, mode: mode}
}

// Line returns the lexer's current line counter.
func (l *Lexer) Line() int { return l.line }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// Next returns the next token. After EOF or Error it keeps returning EOF.
func (l *Lexer) Next() Token {
	if l.pending.Kind != EOF {
		t := l.pending
		l.pending = Token{}
		return t
	}
	if l.done {
		return Token{Kind: EOF, Line: l.line}
	}
	if !l.inStatement {
		l.inStatement = true
		l.words = 0
		l.start = l.pos
		l.startLine = l.line
		l.lastSpace = true
		l.needSpace, l.sharpComment, l.variable = false, false, false
		l.quoted, l.sQuoted, l.dQuoted = false, false, false
	}
	t := l.scan()
	switch t.Kind {
	case EOF, ErrorToken:
		l.done = true
		l.inStatement = false
	case Semicolon, BlockStart, BlockEnd:
		l.inStatement = false
	}
	return t
}

func (l *Lexer) fail(line int, format string, args ...any) Token {
	return Token{Kind: ErrorToken, Value: fmt.Sprintf(format, args...), Line: line}
}

// end finishes a statement with a terminator token.
func (l *Lexer) end(k Kind) Token { return Token{Kind: k, Line: l.line} }

// scan is the loop of ngx_conf_read_token, returning at each word as well
// as at each terminator. The field names follow nginx's variables so the two
// can be read side by side.
func (l *Lexer) scan() Token {
	for {
		if l.pos >= l.last {
			if t, stop := l.refill(); stop {
				return t
			}
		}

		ch := l.src[l.pos]
		l.pos++

		if ch == '\n' {
			l.line++
			l.sharpComment = false
		}
		if l.sharpComment {
			continue
		}
		if l.quoted {
			l.quoted = false
			continue
		}

		if l.needSpace {
			switch {
			case isSpace(ch):
				l.lastSpace = true
				l.needSpace = false
				continue
			case ch == ';':
				return l.end(Semicolon)
			case ch == '{':
				return l.end(BlockStart)
			case ch == ')':
				l.lastSpace = true
				l.needSpace = false
			default:
				return l.fail(l.line, `unexpected "%s"`, []byte{ch})
			}
		}

		if l.lastSpace {
			l.start = l.pos - 1
			l.startLine = l.line
			if isSpace(ch) {
				continue
			}
			switch ch {
			case ';', '{':
				if l.words == 0 {
					return l.fail(l.line, `unexpected "%s"`, []byte{ch})
				}
				if ch == '{' {
					return l.end(BlockStart)
				}
				return l.end(Semicolon)
			case '}':
				if l.words != 0 {
					return l.fail(l.line, `unexpected "}"`)
				}
				return l.end(BlockEnd)
			case '#':
				l.sharpComment = true
			case '\\':
				l.quoted = true
				l.lastSpace = false
			case '"':
				l.start++
				l.dQuoted = true
				l.lastSpace = false
			case '\'':
				l.start++
				l.sQuoted = true
				l.lastSpace = false
			case '$':
				l.variable = true
				l.lastSpace = false
			default:
				l.lastSpace = false
			}
			continue
		}

		if ch == '{' && l.variable {
			continue
		}
		l.variable = false
		if ch == '\\' {
			l.quoted = true
			continue
		}
		if ch == '$' {
			l.variable = true
			continue
		}

		quotedWord := l.dQuoted || l.sQuoted
		switch {
		case l.dQuoted:
			if ch != '"' {
				continue
			}
			l.dQuoted = false
			l.needSpace = true
		case l.sQuoted:
			if ch != '\'' {
				continue
			}
			l.sQuoted = false
			l.needSpace = true
		case isSpace(ch) || ch == ';' || ch == '{':
			l.lastSpace = true
		default:
			continue
		}

		word := Token{Kind: Word, Value: unescape(l.src[l.start : l.pos-1]), Line: l.startLine, Quoted: quotedWord}
		l.words++
		switch ch {
		case ';':
			l.pending = l.end(Semicolon)
			l.inStatement = false
		case '{':
			l.pending = l.end(BlockStart)
			l.inStatement = false
		}
		return word
	}
}

// refill models nginx's buffer: when it runs dry mid-token it keeps the
// token's bytes and reads more, and a token that already fills all 4096
// bytes is an error. At the end of the input it decides between a clean end
// and "unexpected end of file".
func (l *Lexer) refill() (Token, bool) {
	if l.last >= len(l.src) {
		if l.words > 0 || !l.lastSpace {
			if l.mode == ParamMode {
				return l.fail(l.line, `unexpected end of parameter, expecting ";"`), true
			}
			return l.fail(l.line, `unexpected end of file, expecting ";" or "}"`), true
		}
		return Token{Kind: EOF, Line: l.line}, true
	}
	n := l.pos - l.start
	if n == bufferSize {
		switch {
		case l.dQuoted:
			return l.fail(l.startLine, `too long parameter, probably missing terminating """ character`), true
		case l.sQuoted:
			return l.fail(l.startLine, `too long parameter, probably missing terminating "'" character`), true
		}
		return l.fail(l.startLine, `too long parameter "%s..." started`, l.src[l.start:l.start+10]), true
	}
	size := len(l.src) - l.last
	if size > bufferSize-n {
		size = bufferSize - n
	}
	l.last = l.pos + size
	return Token{}, false
}

// unescape applies nginx's escape decoding to a stored word: \" \' \\ drop
// the backslash, \t \r \n become control characters, any other backslash
// pair is kept as it is.
func unescape(b []byte) string {
	i := 0
	for i < len(b) && b[i] != '\\' {
		i++
	}
	if i == len(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:i]...)
	for ; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case '"', '\'', '\\':
				i++
				c = b[i]
			case 't':
				i++
				c = '\t'
			case 'r':
				i++
				c = '\r'
			case 'n':
				i++
				c = '\n'
			}
		}
		out = append(out, c)
	}
	return string(out)
}
