package analysis

import (
	"encoding/json"
	"strconv"
	"strings"
)

// PreviewSummary reads the summary out of a streamed answer's text so far
// (the Chunks joined), for the page to show words instead of JSON while
// the model writes: the schema puts the summary first (Schema). It returns
// the summary's text decoded as far as it has arrived, and complete once
// its closing quote has. Best effort: text that is not the schema's JSON
// previews as "".
func PreviewSummary(text string) (summary string, complete bool) {
	i := strings.Index(text, `"summary"`)
	if i < 0 {
		return "", false
	}
	rest := strings.TrimLeft(text[i+len(`"summary"`):], " \t\r\n")
	if !strings.HasPrefix(rest, ":") {
		return "", false
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n")
	if !strings.HasPrefix(rest, `"`) {
		return "", false
	}
	rest = rest[1:]
	var b strings.Builder
	for len(rest) > 0 {
		c := rest[0]
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\':
			if len(rest) < 2 {
				return b.String(), false // the escape's second half has not arrived
			}
			n := 2
			if rest[1] == 'u' {
				if len(rest) < 6 {
					return b.String(), false
				}
				n = 6
				if hi, err := strconv.ParseUint(rest[2:6], 16, 16); err == nil && hi >= 0xd800 && hi < 0xdc00 {
					if len(rest) < 12 {
						return b.String(), false // a surrogate pair's second half has not arrived
					}
					n = 12
				}
			}
			var s string
			if err := json.Unmarshal([]byte(`"`+rest[:n]+`"`), &s); err != nil {
				return b.String(), false
			}
			b.WriteString(s)
			rest = rest[n:]
		default:
			b.WriteByte(c)
			rest = rest[1:]
		}
	}
	return b.String(), false
}
