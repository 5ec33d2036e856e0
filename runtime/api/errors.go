package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
)

// docsHref is the "href" of every error reply.
const docsHref = "https://nginx.org/en/docs/http/ngx_http_api_module.html"

// apiError is an error reply: the HTTP status, nginx's error code and text.
type apiError struct {
	status int
	code   string
	text   string
}

func (e *apiError) Error() string { return e.code + ": " + e.text }

// Error codes. The texts of UnknownVersion, PathNotFound, MethodDisabled and
// KeyvalKeyExists are the ones NGINX Plus was seen to send; the keyval
// format texts are the swagger's; the rest follow the swagger's wording in
// nginx's lower case (README.md lists them).
const (
	codeUnknownVersion       = "UnknownVersion"
	codePathNotFound         = "PathNotFound"
	codeMethodDisabled       = "MethodDisabled"
	codeMethodNotSupported   = "MethodNotSupported"
	codeBodyReadError        = "BodyReadError"
	codeBodyTooLarge         = "RequestEntityTooLarge"
	codeJSONError            = "JsonError"
	codeKeyvalNotFound       = "KeyvalNotFound"
	codeKeyvalKeyNotFound    = "KeyvalKeyNotFound"
	codeKeyvalKeyExists      = "KeyvalKeyExists"
	codeKeyvalFormatError    = "KeyvalFormatError"
	codeKeyvalOutOfMemory    = "KeyvalOutOfMemory"
	codeLimitReqNotFound     = "LimitReqNotFound"
	codeLimitConnNotFound    = "LimitConnNotFound"
	codeServerZoneNotFound   = "ServerZoneNotFound"
	codeLocationZoneNotFound = "LocationZoneNotFound"
	codeCacheNotFound        = "CacheNotFound"
	codeSlabNotFound         = "SlabNotFound"
	codeUpstreamNotFound     = "UpstreamNotFound"
	codeResolverNotFound     = "ResolverZoneNotFound"
	codeWorkerNotFound       = "WorkerNotFound"
)

// Texts of the keyval format errors (400 KeyvalFormatError).
const (
	textInvalidJSON        = "Invalid JSON"
	textInvalidKey         = "invalid key format"
	textKeyRequired        = "key required"
	textNoTimeout          = "keyval timeout is not enabled"
	textOnlyOneAdded       = "only one key can be added"
	textOnlyOneUpdated     = "only one key can be updated"
	textKeyTooLong         = "key is too long"
	textPairTooLarge       = "key-value pair is too large for the zone"
	textBodyReadFailed     = "reading request body failed"
	textBodyTooLarge       = "request entity too large"
	textMethodNotSupported = "method not supported"
)

var (
	errUnknownVersion       = &apiError{http.StatusNotFound, codeUnknownVersion, "unknown version"}
	errPathNotFound         = &apiError{http.StatusNotFound, codePathNotFound, "path not found"}
	errMethodDisabled       = &apiError{http.StatusMethodNotAllowed, codeMethodDisabled, "method disabled"}
	errMethodNotSupported   = &apiError{http.StatusMethodNotAllowed, codeMethodNotSupported, textMethodNotSupported}
	errBodyRead             = &apiError{http.StatusBadRequest, codeBodyReadError, textBodyReadFailed}
	errBodyTooLarge         = &apiError{http.StatusRequestEntityTooLarge, codeBodyTooLarge, textBodyTooLarge}
	errKeyvalNotFound       = &apiError{http.StatusNotFound, codeKeyvalNotFound, "keyval not found"}
	errKeyvalKeyNotFound    = &apiError{http.StatusNotFound, codeKeyvalKeyNotFound, "keyval key not found"}
	errLimitReqNotFound     = &apiError{http.StatusNotFound, codeLimitReqNotFound, "limit_req not found"}
	errLimitConnNotFound    = &apiError{http.StatusNotFound, codeLimitConnNotFound, "limit_conn not found"}
	errServerZoneNotFound   = &apiError{http.StatusNotFound, codeServerZoneNotFound, "server zone not found"}
	errLocationZoneNotFound = &apiError{http.StatusNotFound, codeLocationZoneNotFound, "location zone not found"}
	errCacheNotFound        = &apiError{http.StatusNotFound, codeCacheNotFound, "cache not found"}
	errSlabNotFound         = &apiError{http.StatusNotFound, codeSlabNotFound, "slab not found"}
	errUpstreamNotFound     = &apiError{http.StatusNotFound, codeUpstreamNotFound, "upstream not found"}
	errResolverNotFound     = &apiError{http.StatusNotFound, codeResolverNotFound, "resolver zone not found"}
	errWorkerNotFound       = &apiError{http.StatusNotFound, codeWorkerNotFound, "worker not found"}
)

// formatError is a 400 KeyvalFormatError with one of the texts above.
func formatError(text string) *apiError {
	return &apiError{http.StatusBadRequest, codeKeyvalFormatError, text}
}

// jsonError is a 415 JsonError: the body is not JSON at all.
func jsonError(detail string) *apiError {
	return &apiError{http.StatusUnsupportedMediaType, codeJSONError, "JSON error: " + detail}
}

// keyExists is the 409 NGINX Plus answers to a POST of a key it has.
func keyExists(key string) *apiError {
	return &apiError{http.StatusConflict, codeKeyvalKeyExists, `key "` + key + `" already exists`}
}

// zoneFull answers a write that the zone has no memory left for. NGINX
// Plus documents no code for it; the API uses 507 so that clients can tell
// it from a malformed request, and nothing stored is dropped.
func zoneFull(zoneName string) *apiError {
	return &apiError{http.StatusInsufficientStorage, codeKeyvalOutOfMemory, `keyval "` + zoneName + `" memory exhausted`}
}

// newRequestID returns 32 hex digits, as nginx's $request_id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// errorBody is the JSON of an error reply.
func errorBody(e *apiError, requestID string) []byte {
	b := make([]byte, 0, 160+len(e.text))
	b = append(b, `{"error":{"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"text":`...)
	b = appendString(b, e.text)
	b = append(b, `,"code":`...)
	b = appendString(b, e.code)
	b = append(b, `},"request_id":`...)
	b = appendString(b, requestID)
	b = append(b, `,"href":`...)
	b = appendString(b, docsHref)
	return append(b, '}')
}
