package value

// Error is a rejected value. Text is nginx's fixed wording for the failure,
// without the directive name, the argument or the position: the directive
// setter adds those.
type Error struct {
	Text string
}

func (e *Error) Error() string { return e.Text }

// The failures below are returned as these exact values, so callers can
// compare them with errors.Is.
var (
	// ErrInvalid is what the size, offset, msec and sec slots report;
	// nginx prints `"NAME" directive invalid value`.
	ErrInvalid = &Error{Text: "invalid value"}

	// ErrNumber is what the number slot reports; nginx prints
	// `"NAME" directive invalid number`.
	ErrNumber = &Error{Text: "invalid number"}

	// ErrFlag is the tail of the flag slot's message; nginx prints
	// `invalid value "ARG" in "NAME" directive, it must be "on" or "off"`.
	ErrFlag = &Error{Text: `it must be "on" or "off"`}

	// ErrInvalidParameter is what allow/deny report for an address block
	// they cannot read; nginx prints `invalid parameter "ARG"`.
	ErrInvalidParameter = &Error{Text: "invalid parameter"}
)

// Address failures, worded as nginx's URL parser words them. The listen
// directives print `TEXT in "ARG" of the "listen" directive`; upstream
// server and proxy_pass print `TEXT in upstream "ARG"`.
var (
	ErrInvalidHost      = &Error{Text: "invalid host"}
	ErrInvalidPort      = &Error{Text: "invalid port"}
	ErrInvalidPortRange = &Error{Text: "invalid port range"}
	ErrNoHost           = &Error{Text: "no host"}
	ErrInvalidIPv6      = &Error{Text: "invalid IPv6 address"}
	ErrNoUnixPath       = &Error{Text: "no path in the unix domain socket"}
	ErrUnixPathTooLong  = &Error{Text: "too long path in the unix domain socket"}

	// ErrNoPort is not one of the URL parser's own failures: it comes from
	// URLOptions.RequirePort, which stands for the check that stream
	// upstream servers and proxy_pass make afterwards. nginx prints
	// `no port in upstream "ARG"`.
	ErrNoPort = &Error{Text: "no port"}
)
