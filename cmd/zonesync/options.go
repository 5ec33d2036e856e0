package main

import (
	"fmt"
)

// options are the command line switches, parsed as nginx's ngx_get_options
// parses them: single-letter switches that may be combined ("-tq"), and
// values either attached ("-cfile") or in the next argument.
type options struct {
	help, version, configure bool
	test, dump, quiet        bool
	signal                   string
	prefix                   string
	errorLog                 string
	errorLogSet              bool
	confFile                 string
	globals                  string
}

// optionError is printed as "zonesync: MSG" and exits 1.
type optionError string

func (e optionError) Error() string { return string(e) }

func parseOptions(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if len(arg) == 0 || arg[0] != '-' {
			return nil, optionError(fmt.Sprintf("invalid option: \"%s\"", arg))
		}
		p := arg[1:]
	letters:
		for len(p) > 0 {
			c := p[0]
			p = p[1:]
			switch c {
			case '?', 'h':
				o.version, o.help = true, true
			case 'v':
				o.version = true
			case 'V':
				o.version, o.configure = true, true
			case 't':
				o.test = true
			case 'T':
				o.test, o.dump = true, true
			case 'q':
				o.quiet = true
			case 'p', 'e', 'c', 'g', 's':
				val, next, ok := optionValue(p, args, i)
				if !ok {
					return nil, optionError(missingValue(c))
				}
				i = next
				switch c {
				case 'p':
					o.prefix = val
				case 'e':
					o.errorLog, o.errorLogSet = val, true
				case 'c':
					o.confFile = val
				case 'g':
					o.globals = val
				case 's':
					switch val {
					case "stop", "quit", "reopen", "reload":
						o.signal = val
					default:
						return nil, optionError(fmt.Sprintf("invalid option: \"-s %s\"", val))
					}
				}
				break letters
			default:
				return nil, optionError(fmt.Sprintf("invalid option: \"%c\"", c))
			}
		}
	}
	return o, nil
}

// optionValue takes a switch's value from the rest of the word or from the
// next argument; next is the index of the last argument used.
func optionValue(rest string, args []string, i int) (val string, next int, ok bool) {
	if rest != "" {
		return rest, i, true
	}
	if i+1 < len(args) {
		return args[i+1], i + 1, true
	}
	return "", i, false
}

func missingValue(c byte) string {
	switch c {
	case 'p':
		return `option "-p" requires directory name`
	case 'e', 'c':
		return fmt.Sprintf(`option "-%c" requires file name`, c)
	}
	return fmt.Sprintf(`option "-%c" requires parameter`, c)
}
