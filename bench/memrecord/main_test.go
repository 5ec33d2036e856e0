package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("array header %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
	if err != nil {
		return nil, err
	}
	var args []string
	for range n {
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "$") {
			return nil, fmt.Errorf("bulk header %q, %v", line, err)
		}
		size, err := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		if string(buf[size:]) != "\r\n" {
			return nil, fmt.Errorf("bulk string not ended by CRLF: %q", buf)
		}
		args = append(args, string(buf[:size]))
	}
	return args, nil
}

func TestRespWritesSetWithExpiry(t *testing.T) {
	var out bytes.Buffer
	if err := runResp([]string{"-n", "3", "-first", "5", "-prefix", "m", "-ex", "3600"}, &out); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&out)
	for i := 5; i < 8; i++ {
		args, err := readCommand(r)
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("m%031d", i)
		want := []string{"SET", key, value(i, 32), "EX", "3600"}
		if fmt.Sprint(args) != fmt.Sprint(want) {
			t.Fatalf("command %d = %q, want %q", i, args, want)
		}
		if len(args[1]) != 32 || len(args[2]) != 32 {
			t.Fatalf("key %q, value %q: want 32 bytes each", args[1], args[2])
		}
	}
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Fatalf("trailing output %q", rest)
	}
}

func TestRespWithoutExpiry(t *testing.T) {
	var out bytes.Buffer
	if err := runResp([]string{"-n", "1", "-ex", "0", "-key-size", "8", "-value-size", "4"}, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "*3\r\n$3\r\nSET\r\n$8\r\nm0000000\r\n$4\r\nv0-x\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// The names must stay those of bench/apiload (see its TestKeyNameAndValue).
func TestNamesMatchApiload(t *testing.T) {
	if k, err := keyName("k", 7, 8); k != "k0000007" || err != nil {
		t.Errorf("keyName = %q, %v", k, err)
	}
	if _, err := keyName("k", 12345678, 8); err == nil {
		t.Error("a key that does not fit must fail")
	}
	if v := value(42, 32); len(v) != 32 || !strings.HasPrefix(v, "v42-x") {
		t.Errorf("value(42, 32) = %q", v)
	}
}

func TestMeasureZone(t *testing.T) {
	f := fields{n: 1000, prefix: "m", keySize: 32, valueSize: 32}
	m, err := measureZone(f, 1<<20, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// runtime/zone's README: a 1m zone holds 8928 pairs of 32/32 bytes; the
	// issue asks for at least 8000.
	if m.records != 1000 || m.capacity < 8000 {
		t.Fatalf("records %d, capacity %d", m.records, m.capacity)
	}
	// The zone's memory is a mapping outside Go's heap: filling it leaves
	// the heap almost as it was.
	if m.heapGrow > 256<<10 {
		t.Fatalf("heap grew by %d filling a 1m zone: records must live outside Go's heap", m.heapGrow)
	}
	line := m.String()
	if !strings.HasPrefix(line, "records=1000 rss_growth=") || !strings.Contains(line, " capacity=") {
		t.Fatalf("line %q", line)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"64m", 64 << 20}, {"1M", 1 << 20}, {"512k", 512 << 10}, {"2g", 2 << 30}, {"4096", 4096},
		{"", 0}, {"m", 0}, {"-1m", 0}, {"0", 0}, {"1t", 0}, {"64g", 0},
	} {
		got, err := parseSize(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}
