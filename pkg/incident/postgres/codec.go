package postgres

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// timeLayout is how times are stored: UTC, RFC 3339 with all nine
// fractional digits. Exact to the nanosecond (a redelivered alert's startsAt
// must compare equal to its record's, or every repeat would look like a
// change), fixed width so text order is time order, and readable in the
// sqlite3 shell. It covers years 0000-9999, every time a sender's RFC 3339
// JSON can carry; unix nanoseconds would not (they end in 1678 and 2262).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// encodeTime returns t's stored form; the zero time is NULL.
func encodeTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// checkTime reports a time the layout cannot hold.
func checkTime(what string, t time.Time) error {
	if y := t.UTC().Year(); !t.IsZero() && (y < 0 || y > 9999) {
		return fmt.Errorf("%s %s is outside the years 0000-9999", what, t)
	}
	return nil
}

// decodeTime parses a stored time; NULL is the zero time.
func decodeTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s.String, err)
	}
	return t.UTC(), nil
}

func encodeMap(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m) // keys sorted
	return string(b), err
}

func decodeMap(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("stored map: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func encodeTimes(ts []time.Time) (string, error) {
	out := make([]string, len(ts))
	for i, t := range ts {
		if err := checkTime("reopen", t); err != nil {
			return "", err
		}
		out[i] = t.UTC().Format(timeLayout)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeTimes(s string) ([]time.Time, error) {
	var raw []string
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("stored reopens: %w", err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]time.Time, len(raw))
	for i, r := range raw {
		t, err := time.Parse(time.RFC3339Nano, r)
		if err != nil {
			return nil, fmt.Errorf("stored reopens: %w", err)
		}
		out[i] = t.UTC()
	}
	return out, nil
}
