package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zonesync/zonesync/runtime/zone"
)

// The keyval endpoints: /http/keyvals/ and /stream/keyvals/, with the same
// rules in both. A request either succeeds whole or leaves every zone as it
// was.

var errInternal = &apiError{http.StatusInternalServerError, "InternalError", "internal error"}

// keyvalZone finds the zone named by the path.
func (c *call) keyvalZone(stream bool) (*zone.Store, *apiError) {
	name := c.params[0]
	for _, s := range c.api.reg.Keyvals(stream) {
		if s != nil && s.Name() == name && s.Kind() == zone.KindKeyval {
			return s, nil
		}
	}
	return nil, errKeyvalNotFound
}

// pairsObject is a zone's contents, keys in byte order (nginx lists them
// in the order of its tree, which is no order a client can rely on). keep
// limits the keys when not nil.
func pairsObject(s *zone.Store, keep map[string]bool) object {
	out := object{}
	s.Range(func(k string, v []byte, _ time.Duration) bool {
		if keep == nil || keep[k] {
			out = append(out, member{k, string(v)})
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// getKeyvals is GET .../keyvals/: every zone in configuration order. An
// empty ?fields= lists only the zone names; ?fields=k1,k2 keeps those keys.
func getKeyvals(stream bool) func(*call) reply {
	return func(c *call) reply {
		var keep map[string]bool
		if f, has := c.query["fields"]; has {
			keep = parseFields(strings.Join(f, ","))
		}
		out := object{}
		seen := map[string]bool{}
		for _, s := range c.api.reg.Keyvals(stream) {
			if s == nil || seen[s.Name()] || s.Kind() != zone.KindKeyval {
				continue
			}
			seen[s.Name()] = true
			if keep != nil && len(keep) == 0 {
				out = append(out, member{s.Name(), object{}})
				continue
			}
			out = append(out, member{s.Name(), pairsObject(s, keep)})
		}
		return ok(out)
	}
}

// getKeyval is GET .../keyvals/{zone}[?key=K].
func getKeyval(stream bool) func(*call) reply {
	return func(c *call) reply {
		s, e := c.keyvalZone(stream)
		if e != nil {
			return fail(e)
		}
		if _, has := c.query["key"]; !has {
			return ok(pairsObject(s, nil))
		}
		key := c.query.Get("key")
		v, found := s.Get(key)
		if !found {
			return fail(errKeyvalKeyNotFound)
		}
		return ok(object{{key, string(v)}})
	}
}

// pair is one member of a POST or PATCH body.
type pair struct {
	key    string
	value  []byte         // nil: no value given (PATCH of expire only)
	null   bool           // PATCH {"key": null}: delete the key
	expire *time.Duration // "expire" in ms, when given
}

// postKeyval is POST .../keyvals/{zone}: add one pair, or several when the
// zone is empty. 201 with no body.
func postKeyval(stream bool) func(*call) reply {
	return func(c *call) reply {
		s, pairs, e := c.keyvalRequest(stream, false)
		if e != nil {
			return fail(e)
		}
		if len(pairs) > 1 && s.Len() > 0 {
			return fail(formatError(textOnlyOneAdded))
		}
		seen := make(map[string]bool, len(pairs))
		for _, p := range pairs {
			if seen[p.key] {
				return fail(keyExists(p.key))
			}
			seen[p.key] = true
		}
		for i, p := range pairs {
			var exp time.Duration
			if p.expire != nil {
				exp = *p.expire
			}
			if err := s.Insert(p.key, p.value, exp); err != nil {
				// Undo the pairs of this request already added, so a
				// failed request changes nothing.
				for _, q := range pairs[:i] {
					s.Delete(q.key)
				}
				return fail(c.storeError(s, p.key, err))
			}
		}
		c.api.log.Debug().Str("zone", s.Name()).Int("pairs", len(pairs)).Msg("keyval pairs added")
		return created()
	}
}

// patchKeyval is PATCH .../keyvals/{zone}: one key; a string or number sets
// the value (and restarts the zone's timeout), null deletes the key,
// {"value":..,"expire":ms} sets either or both. 204 with no body.
func patchKeyval(stream bool) func(*call) reply {
	return func(c *call) reply {
		s, pairs, e := c.keyvalRequest(stream, true)
		if e != nil {
			return fail(e)
		}
		if len(pairs) > 1 {
			return fail(formatError(textOnlyOneUpdated))
		}
		p := pairs[0]
		if p.null {
			if !s.Delete(p.key) {
				return fail(errKeyvalKeyNotFound)
			}
			return noContent()
		}
		exp := p.expire
		if exp == nil && p.value != nil {
			var restart time.Duration // a new value lives for the zone's timeout
			exp = &restart
		}
		if err := s.Update(p.key, p.value, exp); err != nil {
			return fail(c.storeError(s, p.key, err))
		}
		return noContent()
	}
}

// deleteKeyval is DELETE .../keyvals/{zone}: empty the zone. 204.
func deleteKeyval(stream bool) func(*call) reply {
	return func(c *call) reply {
		s, e := c.keyvalZone(stream)
		if e != nil {
			return fail(e)
		}
		s.Clear()
		return noContent()
	}
}

// keyvalRequest finds the zone, reads and checks the body of a POST or a
// PATCH: at least one pair, every key non-empty and valid for the zone,
// expire only where the zone has a timeout.
func (c *call) keyvalRequest(stream, patch bool) (*zone.Store, []pair, *apiError) {
	s, e := c.keyvalZone(stream)
	if e != nil {
		return nil, nil, e
	}
	body, e := c.readBody()
	if e != nil {
		return nil, nil, e
	}
	pairs, e := parsePairs(body, patch)
	if e != nil {
		return nil, nil, e
	}
	if len(pairs) == 0 {
		return nil, nil, formatError(textKeyRequired)
	}
	for _, p := range pairs {
		switch {
		case p.key == "":
			return nil, nil, formatError(textKeyRequired)
		case len(p.key) > zone.MaxKeyLen:
			return nil, nil, formatError(textKeyTooLong)
		case s.MatchType() == zone.MatchIP && !validIPKey(p.key):
			return nil, nil, formatError(textInvalidKey)
		case p.expire != nil && s.Timeout() <= 0:
			return nil, nil, formatError(textNoTimeout)
		}
	}
	return s, pairs, nil
}

// validIPKey is the key syntax of a type=ip zone: an address or a CIDR
// block, IPv4 or IPv6, without a zone.
func validIPKey(k string) bool {
	if strings.IndexByte(k, '/') >= 0 {
		_, err := netip.ParsePrefix(k)
		return err == nil
	}
	a, err := netip.ParseAddr(k)
	return err == nil && a.Zone() == ""
}

// storeError maps a store error to the API's.
func (c *call) storeError(s *zone.Store, key string, err error) *apiError {
	switch {
	case errors.Is(err, zone.ErrExists):
		return keyExists(key)
	case errors.Is(err, zone.ErrNotFound):
		return errKeyvalKeyNotFound
	case errors.Is(err, zone.ErrFull):
		c.api.log.Warn().Str("zone", s.Name()).Msg("keyval zone is full")
		return zoneFull(s.Name())
	case errors.Is(err, zone.ErrTooLarge):
		if len(key) > zone.MaxKeyLen {
			return formatError(textKeyTooLong)
		}
		return formatError(textPairTooLarge)
	case errors.Is(err, zone.ErrKey):
		return formatError(textInvalidKey)
	}
	c.api.log.Error().Err(err).Str("zone", s.Name()).Msg("keyval write failed")
	return errInternal
}

// readBody reads the request body, which must fit in the location's
// client_body_buffer_size.
func (c *call) readBody() ([]byte, *apiError) {
	if c.r.ContentLength > c.maxBody {
		return nil, errBodyTooLarge
	}
	if c.r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(c.r.Body, c.maxBody+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errBodyTooLarge
		}
		return nil, errBodyRead
	}
	if int64(len(b)) > c.maxBody {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// maxExpireMs is the largest "expire" a time.Duration can hold.
const maxExpireMs = math.MaxInt64 / int64(time.Millisecond)

// parsePairs reads a POST or PATCH body: a JSON object whose values are
// strings, numbers (kept as written: 1 is stored as "1", as NGINX Plus
// does), null (PATCH only: delete) or {"value": v, "expire": ms}. A body
// that is not JSON is a 415 JsonError; JSON of another shape is a 400
// KeyvalFormatError "Invalid JSON".
func parsePairs(body []byte, patch bool) ([]pair, *apiError) {
	if !json.Valid(body) {
		var raw json.RawMessage
		err := json.Unmarshal(body, &raw)
		detail := "invalid JSON"
		if err != nil {
			detail = err.Error()
			var se *json.SyntaxError
			if errors.As(err, &se) {
				detail += " at offset " + strconv.FormatInt(se.Offset, 10)
			}
		}
		return nil, jsonError(detail)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	invalid := formatError(textInvalidJSON)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, invalid
	}
	var pairs []pair
	for dec.More() {
		tok, err := dec.Token()
		key, isString := tok.(string)
		if err != nil || !isString {
			return nil, invalid
		}
		p := pair{key: key}
		if !parseValue(dec, &p, patch) {
			return nil, invalid
		}
		pairs = append(pairs, p)
	}
	return pairs, nil
}

// parseValue reads the value of one pair.
func parseValue(dec *json.Decoder, p *pair, patch bool) bool {
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	switch t := tok.(type) {
	case string, json.Number:
		p.value = scalar(t)
		return true
	case nil:
		p.null = true
		return patch
	case json.Delim:
		if t != '{' {
			return false
		}
	default: // true, false
		return false
	}
	var hasValue, hasExpire bool
	for dec.More() {
		tok, err := dec.Token()
		name, isString := tok.(string)
		if err != nil || !isString {
			return false
		}
		v, err := dec.Token()
		if err != nil {
			return false
		}
		switch name {
		case "value":
			switch v.(type) {
			case string, json.Number:
			default:
				return false
			}
			if hasValue {
				return false
			}
			hasValue = true
			p.value = scalar(v)
		case "expire":
			n, isNumber := v.(json.Number)
			if !isNumber || hasExpire {
				return false
			}
			ms, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil || ms < 0 || ms > maxExpireMs {
				return false
			}
			hasExpire = true
			d := time.Duration(ms) * time.Millisecond
			p.expire = &d
		default:
			return false
		}
	}
	if end, err := dec.Token(); err != nil || end != json.Delim('}') {
		return false
	}
	if patch {
		return hasValue || hasExpire
	}
	return hasValue
}

// scalar is the stored form of a JSON string or number: the string, or
// the number as written. It is never nil, so an empty string is a value.
func scalar(tok json.Token) []byte {
	switch t := tok.(type) {
	case string:
		return append([]byte{}, t...)
	case json.Number:
		return append([]byte{}, t...)
	}
	return []byte{}
}
