// Command zonesync runs nginx configurations with NGINX Plus-style zone
// synchronization. Its command line is nginx's: -t and -T test a
// configuration and print what nginx prints, -s signals a running node.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zonesync/zonesync/directives"
	"github.com/zonesync/zonesync/grammar"
	"github.com/zonesync/zonesync/runtime/node"
)

const (
	progName = "zonesync"
	version  = "0.1.0"
	// defaultConf is the configuration file used without -c, relative to
	// the prefix, as nginx's conf/nginx.conf.
	defaultConf = "conf/nginx.conf"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", progName, err)
		return 1
	}
	if o.version {
		fmt.Fprintf(stderr, "%s version: %s/%s\n", progName, progName, version)
		if o.help {
			fmt.Fprint(stderr, usage)
		}
		if o.configure {
			fmt.Fprintf(stderr, "built with %s\nconfigure arguments: (none: every module is built in)\n", goVersion())
		}
		if !o.test {
			return 0
		}
	}
	log, err := newTermLog(stderr, o)
	if err != nil {
		fmt.Fprintf(stderr, "%s: [alert] could not open error log file: %s\n", progName, err)
		return 1
	}
	defer log.Close()

	prefix, confFile := paths(o)
	var builtin []byte
	if o.confFile == "" {
		if _, err := os.Stat(confFile); errors.Is(err, os.ErrNotExist) {
			// No -c and nothing at the default path: the built-in config.
			builtin, confFile = node.DefaultConfig, prefix+node.DefaultConfigName
		}
	}
	if o.signal != "" {
		return sendSignal(log, prefix, confFile, builtin, o)
	}
	if !o.test {
		defer startProfile(stderr)()
		return node.Run(node.Options{Prefix: prefix, ConfFile: confFile, ConfSource: builtin, Globals: o.globals, Stderr: stderr})
	}
	return testConfig(log, stdout, prefix, confFile, builtin, o)
}

// paths resolves the prefix and the configuration file as nginx does: the
// prefix defaults to the current directory, and a relative -c is relative
// to the prefix.
func paths(o *options) (prefix, confFile string) {
	prefix = o.prefix
	if prefix == "" {
		wd, err := os.Getwd()
		if err != nil {
			wd = "."
		}
		prefix = wd
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	confFile = o.confFile
	if confFile == "" {
		confFile = defaultConf
	}
	if !filepath.IsAbs(confFile) {
		confFile = prefix + confFile
	}
	return prefix, confFile
}

// testConfig is -t and -T: parse, check, report as nginx reports, and dump
// the files read for -T.
func testConfig(log *termLog, stdout io.Writer, prefix, confFile string, builtin []byte, o *options) int {
	failed := func(err error) int {
		log.Error(directives.Emerg, err)
		log.Term("configuration file %s test failed", confFile)
		return 1
	}
	cfg, err := directives.Load(directives.Options{
		Prefix:     prefix,
		ConfFile:   confFile,
		ConfSource: builtin,
		Globals:    o.globals,
		Log:        log.Error,
		Test:       true,
	})
	if err != nil {
		return failed(err)
	}
	if !o.quiet {
		log.Term("the configuration file %s syntax is ok", confFile)
	}
	if err := cfg.Check(); err != nil {
		return failed(err)
	}
	if !o.quiet {
		log.Term("configuration file %s test is successful", confFile)
	}
	if o.dump {
		dump(stdout, cfg.Files)
	}
	return 0
}

// dump writes each file read, once, in the order first opened: the -T
// format of nginx.
func dump(w io.Writer, files []*grammar.File) {
	for _, f := range files {
		fmt.Fprintf(w, "# configuration file %s:\n", f.Path)
		w.Write(f.Source)
		io.WriteString(w, "\n")
	}
}

const usage = `Usage: zonesync [-?hvVtTq] [-s signal] [-p prefix]
             [-e filename] [-c filename] [-g directives]

Options:
  -?,-h         : this help
  -v            : show version and exit
  -V            : show version and configure options then exit
  -t            : test configuration and exit
  -T            : test configuration, dump it and exit
  -q            : suppress non-error messages during configuration testing
  -s signal     : send signal to a node: stop, quit, reopen, reload
  -p prefix     : set prefix path (default: the current directory)
  -e filename   : set error log file (default: the terminal)
  -c filename   : set configuration file (default: conf/nginx.conf)
  -g directives : set global directives out of configuration file

`
