// Package httpjson fixes the conventions of MeshWatch's resource API: JSON in
// and out, one error body shape {"error": ..., "detail": ...}, request size
// limits and method checks.
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DefaultMaxBody is the request body limit when a route sets none (1 MiB).
const DefaultMaxBody = 1 << 20

// ErrorBody is the one error shape every route returns.
type ErrorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// Write sends v as JSON with status.
func Write(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = json.Marshal(ErrorBody{Error: "internal error", Detail: "response could not be encoded"})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// Error sends the error body with status.
func Error(w http.ResponseWriter, status int, msg, detail string) {
	Write(w, status, ErrorBody{Error: msg, Detail: detail})
}

// Methods wraps h so that other methods get 405 with an Allow header.
func Methods(h http.HandlerFunc, methods ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(methods, ", "))
		Error(w, http.StatusMethodNotAllowed, "method not allowed",
			fmt.Sprintf("%s %s accepts %s", r.Method, r.URL.Path, strings.Join(methods, ", ")))
	}
}

// Decode reads a JSON body of at most maxBytes into v, rejecting unknown
// fields and trailing data. On failure it has already written the error
// response (413 for an oversized body, 415 for a non-JSON content type, 400
// otherwise) and returns false.
func Decode(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) bool {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		Error(w, http.StatusUnsupportedMediaType, "unsupported content type", "send application/json, got "+ct)
		return false
	}
	if r.Body == nil || r.Body == http.NoBody {
		// Grafana's resource adapter hands an empty body over as nil.
		Error(w, http.StatusBadRequest, "malformed JSON body", "the body is empty")
		return false
	}
	body := http.MaxBytesReader(w, r.Body, maxBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeDecodeError(w, err, maxBytes)
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			writeDecodeError(w, err, maxBytes)
			return false
		}
		Error(w, http.StatusBadRequest, "malformed JSON body", "unexpected data after the JSON value")
		return false
	}
	return true
}

func writeDecodeError(w http.ResponseWriter, err error, maxBytes int64) {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		Error(w, http.StatusRequestEntityTooLarge, "request body too large", fmt.Sprintf("the limit is %d bytes", maxBytes))
	case errors.Is(err, io.EOF):
		Error(w, http.StatusBadRequest, "malformed JSON body", "the body is empty")
	case errors.As(err, &syntax):
		Error(w, http.StatusBadRequest, "malformed JSON body", fmt.Sprintf("syntax error at byte %d: %v", syntax.Offset, err))
	case errors.As(err, &typ):
		Error(w, http.StatusBadRequest, "malformed JSON body", fmt.Sprintf("field %q must be %s, got %s", typ.Field, typ.Type, typ.Value))
	case errors.Is(err, io.ErrUnexpectedEOF):
		Error(w, http.StatusBadRequest, "malformed JSON body", "the body ends in the middle of a JSON value")
	default:
		Error(w, http.StatusBadRequest, "malformed JSON body", err.Error())
	}
}

// NotFound answers unknown routes.
func NotFound(w http.ResponseWriter, r *http.Request) {
	Error(w, http.StatusNotFound, "not found", "no resource route "+r.Method+" "+r.URL.Path)
}
