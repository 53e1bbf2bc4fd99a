package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// maxDepth bounds nesting: real payloads are 4 levels deep (payload,
// alerts, alert, labels).
const maxDepth = 64

// checkJSON reports whether body is one well-formed JSON value, with no key
// repeated within an object (keys compared unescaped), nothing but
// whitespace after it, and nesting no deeper than maxDepth; the error says
// where. fold reports whether some key differs from a wire field's name
// only in case (see exactly).
func checkJSON(body []byte) (fold bool, err error) {
	if !json.Valid(body) {
		var raw json.RawMessage
		return false, syntaxError(body, json.Unmarshal(body, &raw)) // the scanner's precise position
	}
	w := walker{body: body}
	if err := w.value(); err != nil {
		return false, err
	}
	return w.fold, nil
}

// syntaxError turns encoding/json's error on body into a located
// ErrMalformed.
func syntaxError(body []byte, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && strings.HasSuffix(se.Error(), "after top-level value"):
		return located(ErrMalformed, body, se.Offset, "there is more data after the JSON value")
	case errors.As(err, &se) && strings.HasPrefix(se.Error(), "unexpected end"):
		return located(ErrMalformed, body, int64(len(body))+1, "the body ends in the middle of a JSON value")
	case errors.As(err, &se):
		return located(ErrMalformed, body, se.Offset, "the body is not well-formed JSON: %s", firstClause(se.Error()))
	default:
		return errorf(ErrMalformed, "the body is not well-formed JSON: %s", firstClause(err.Error()))
	}
}

// walker walks JSON that json.Valid accepted, without allocating for what
// it skips: it checks keys and depth only.
type walker struct {
	body  []byte
	i     int
	depth int
	fold  bool
}

func (w *walker) space() {
	for w.i < len(w.body) && isSpace(w.body[w.i]) {
		w.i++
	}
}

func (w *walker) value() error {
	w.space()
	switch w.body[w.i] {
	case '{':
		return w.object()
	case '[':
		return w.array()
	case '"':
		w.str()
	default: // a number, true, false or null
		for w.i < len(w.body) && !isSpace(w.body[w.i]) && w.body[w.i] != ',' && w.body[w.i] != '}' && w.body[w.i] != ']' {
			w.i++
		}
	}
	return nil
}

// enter steps into an object or array at w.i.
func (w *walker) enter() error {
	if w.depth++; w.depth > maxDepth {
		return located(ErrSchema, w.body, int64(w.i)+1, "the JSON is nested more than %d levels deep", maxDepth)
	}
	w.i++
	w.space()
	return nil
}

func (w *walker) array() error {
	if err := w.enter(); err != nil {
		return err
	}
	for w.body[w.i] != ']' {
		if err := w.value(); err != nil {
			return err
		}
		w.space()
		if w.body[w.i] == ',' {
			w.i++
		}
		w.space()
	}
	w.i++
	w.depth--
	return nil
}

// smallObject is how many keys an object's keys are compared in a list
// before a map takes over (an object of 100,000 keys stays linear).
const smallObject = 16

func (w *walker) object() error {
	if err := w.enter(); err != nil {
		return err
	}
	var buf [smallObject][]byte
	list := buf[:0]
	var set map[string]struct{}
	for w.body[w.i] != '}' {
		key, escaped := w.str()
		if escaped {
			var s string
			_ = json.Unmarshal(w.body[w.i-len(key)-2:w.i], &s) // well-formed: cannot fail
			key = []byte(s)
		}
		dup := false
		if set != nil {
			_, dup = set[string(key)]
			set[string(key)] = struct{}{}
		} else {
			for _, k := range list {
				if dup = bytes.Equal(k, key); dup {
					break
				}
			}
			if list = append(list, key); len(list) > smallObject {
				set = make(map[string]struct{}, 2*smallObject)
				for _, k := range list {
					set[string(k)] = struct{}{}
				}
			}
		}
		if dup {
			return located(ErrMalformed, w.body, int64(w.i), "the key %q appears twice in one object", cut(string(key), 64))
		}
		if !w.fold {
			w.fold = foldsToField(key)
		}
		w.space()
		w.i++ // ':'
		if err := w.value(); err != nil {
			return err
		}
		w.space()
		if w.body[w.i] == ',' {
			w.i++
			w.space()
		}
	}
	w.i++
	w.depth--
	return nil
}

// str steps over the string at w.i and returns its raw content (between
// the quotes) and whether it has escapes.
func (w *walker) str() (raw []byte, escaped bool) {
	start := w.i + 1
	for w.i = start; w.body[w.i] != '"'; w.i++ {
		if w.body[w.i] == '\\' {
			escaped = true
			w.i++
		}
	}
	w.i++
	return w.body[start : w.i-1], escaped
}

// wireNames are the JSON names of every wire struct's fields.
var wireNames = func() []string {
	seen := map[string]bool{}
	for _, v := range []any{amMessage{}, gfMessage{}, gfAlert{}} {
		for n := range fieldNames(reflect.TypeOf(v)) {
			seen[n] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	return names
}()

// foldsToField reports whether key differs from a wire field's name only
// in case, as encoding/json folds names (bytes.EqualFold), so that
// json.Unmarshal would take it for that field.
func foldsToField(key []byte) bool {
	if len(key) == 0 {
		return false
	}
	for _, n := range wireNames {
		if string(key) != n && strings.EqualFold(string(key), n) {
			return true
		}
	}
	return false
}
