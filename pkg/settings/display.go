package settings

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxShown is the most characters of a configured value that a message, a
// health line or ShowURL repeats; longer values end in "…".
const MaxShown = 200

// ShowURL renders a configured URL for messages, logs and the browser: it
// never carries user-info or a query, and is at most MaxShown characters.
//
// Everything between "scheme://" (or the start, when there is no scheme) and
// the LAST '@' of the value is replaced by "***", and so is everything after
// the first '?' or '#' that follows it. The last '@' is used because a
// password may contain '@', '/', '?', '#' or spaces unencoded, in which case
// no parser can tell where the authority ends; the price is that an '@' in a
// path ("http://host/a@b") hides the host as well ("http://***@b"). A value
// that is not a URL at all is masked by the same rule, so the result is
// safe to show whatever the input.
func ShowURL(raw string) string {
	return capText(maskURL(strings.TrimSpace(raw)), MaxShown)
}

// DisplayURL is where e points as it may be shown anywhere: e.URL (see
// ShowURL), or for a Grafana datasource "datasource <uid> via Grafana
// (<app URL>)".
func (e Endpoint) DisplayURL() string {
	if e.DatasourceUID == "" {
		return ShowURL(e.URL)
	}
	app := "app URL unknown"
	if e.appURL != "" {
		app = ShowURL(e.appURL)
	}
	return "datasource " + escaped(e.DatasourceUID, 40) + " via Grafana (" + app + ")"
}

var schemePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*://`)

// maskURL is ShowURL without the length cap (the browser view keeps long
// URLs whole).
func maskURL(raw string) string {
	prefix := schemePrefix.FindString(raw)
	rest := raw[len(prefix):]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = "***" + rest[at:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i+1] + "***"
	}
	return prefix + rest
}

// urlInText finds URLs in free text; one ends at white space or a quote.
var urlInText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>]*`)

// shownURL masks every URL in free text (see ShowURL). It is the last line
// of defence applied to every message Validate and Load produce; values that
// are known to be URLs go through ShowURL first, which also handles
// passwords with spaces.
func shownURL(text string) string {
	return urlInText.ReplaceAllStringFunc(text, maskURL)
}

// capText cuts s to at most max runes, marking a cut with "…".
func capText(s string, maxRunes int) string {
	n := 0
	for i := range s {
		if n == maxRunes {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// quoted is a non-secret value as a message may repeat it: Go-quoted, with
// control and invalid bytes escaped, at most MaxShown characters inside the
// quotes.
func quoted(s string) string {
	return `"` + escaped(s, MaxShown) + `"`
}

// escaped is s with quotes, backslashes, control characters and invalid
// UTF-8 escaped as in a Go string literal, cut to at most maxLen bytes plus
// "…".
func escaped(s string, maxLen int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case r == '"' || r == '\\' || !strconv.IsPrint(r):
			q := strconv.Quote(string(r))
			piece = q[1 : len(q)-1]
		default:
			piece = s[i : i+size]
		}
		if b.Len()+len(piece) > maxLen {
			b.WriteString("…")
			break
		}
		b.WriteString(piece)
		i += size
	}
	return b.String()
}

// fieldKey is a jsonData key as it may appear in FieldError.Field.
func fieldKey(k string) string {
	if k == "" {
		return `""`
	}
	return escaped(k, 100)
}

// headerValueProblem says why v cannot be sent as an HTTP header value
// (RFC 9110 field-value: visible ASCII, obs-text, space and tab), or "" when
// it can. The answer never repeats v, so it is safe for secrets.
func headerValueProblem(v string) string {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\r' || c == '\n':
			return "it spans more than one line"
		case (c < 0x20 && c != '\t') || c == 0x7f:
			return fmt.Sprintf("it contains a control character (byte 0x%02x)", c)
		}
	}
	return ""
}
