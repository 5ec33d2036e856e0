package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// maxArray bounds the elements of a RESP array reply.
const maxArray = 1 << 20

// redisConn is one connection to redis-server speaking RESP: commands are
// buffered by send and go out on flush, so a caller pipelines by sending
// several before reading their replies in order. Every read and write is
// bounded by deadline.
type redisConn struct {
	addr     string
	deadline time.Time
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
}

// redisReply is one reply; arrays are read and dropped.
type redisReply struct {
	kind byte // '+', '-', ':', '$' or '*'
	text string
	n    int64
	null bool
}

// errRedis is a RESP error reply ("-ERR ...", "-LOADING ...").
type errRedis string

func (e errRedis) Error() string { return "redis: " + string(e) }

func (c *redisConn) connect() error {
	if c.nc != nil {
		return nil
	}
	wait := time.Until(c.deadline)
	if wait <= 0 {
		return fmt.Errorf("dial %s: %w", c.addr, errDeadline)
	}
	nc, err := net.DialTimeout("tcp", c.addr, wait)
	if err != nil {
		return err
	}
	if err := nc.SetDeadline(c.deadline); err != nil {
		nc.Close()
		return err
	}
	c.nc = nc
	c.br = bufio.NewReaderSize(nc, maxLine)
	c.bw = bufio.NewWriterSize(nc, 64<<10)
	return nil
}

func (c *redisConn) drop() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// send buffers one command.
func (c *redisConn) send(args ...string) {
	c.bw.WriteByte('*')
	c.bw.WriteString(strconv.Itoa(len(args)))
	c.bw.WriteString("\r\n")
	for _, a := range args {
		c.bw.WriteByte('$')
		c.bw.WriteString(strconv.Itoa(len(a)))
		c.bw.WriteString("\r\n")
		c.bw.WriteString(a)
		c.bw.WriteString("\r\n")
	}
}

func (c *redisConn) flush() error {
	if err := c.bw.Flush(); err != nil {
		c.drop()
		return err
	}
	return nil
}

// read reads one reply; a transport error drops the connection.
func (c *redisConn) read() (redisReply, error) {
	r, err := readReply(c.br, 0)
	if err != nil {
		c.drop()
	}
	return r, err
}

// do sends one command and returns its reply; an error reply is an
// errRedis.
func (c *redisConn) do(args ...string) (redisReply, error) {
	if err := c.connect(); err != nil {
		return redisReply{}, err
	}
	c.send(args...)
	if err := c.flush(); err != nil {
		return redisReply{}, err
	}
	r, err := c.read()
	if err == nil && r.kind == '-' {
		err = errRedis(r.text)
	}
	return r, err
}

// readReply reads one RESP2 reply; depth bounds nested arrays.
func readReply(br *bufio.Reader, depth int) (redisReply, error) {
	line, err := readLine(br)
	if err != nil {
		return redisReply{}, err
	}
	if line == "" {
		return redisReply{}, errors.New("redis: empty reply line")
	}
	r := redisReply{kind: line[0]}
	rest := line[1:]
	switch r.kind {
	case '+', '-':
		r.text = rest
	case ':':
		if r.n, err = strconv.ParseInt(rest, 10, 64); err != nil {
			return r, fmt.Errorf("redis: malformed integer reply %q", line)
		}
	case '$':
		if r.n, err = strconv.ParseInt(rest, 10, 64); err != nil || r.n > maxBody {
			return r, fmt.Errorf("redis: malformed bulk length %q", line)
		}
		if r.n < 0 {
			r.null = true
			return r, nil
		}
		b := make([]byte, r.n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return r, unexpectedEOF(err)
		}
		if string(b[r.n:]) != "\r\n" {
			return r, errors.New("redis: bulk string without its CRLF")
		}
		r.text = string(b[:r.n])
	case '*':
		if r.n, err = strconv.ParseInt(rest, 10, 64); err != nil || r.n > maxArray || depth > 8 {
			return r, fmt.Errorf("redis: malformed or too deep array %q", line)
		}
		r.null = r.n < 0
		for i := int64(0); i < r.n; i++ {
			if _, err := readReply(br, depth+1); err != nil {
				return r, unexpectedEOF(err)
			}
		}
	default:
		return r, fmt.Errorf("redis: unknown reply %q", line)
	}
	return r, nil
}

// infoField is one "name:value" line of an INFO reply.
func infoField(info, name string) (string, bool) {
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if ok && k == name {
			return v, true
		}
	}
	return "", false
}
