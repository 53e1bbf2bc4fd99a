package analysis

import "testing"

func TestPreviewSummaryAsItStreams(t *testing.T) {
	for _, tc := range []struct {
		text     string
		want     string
		complete bool
	}{
		{``, "", false},
		{`{"sum`, "", false},
		{`{"summary": "checkout's sid`, "checkout's sid", false},
		{`{"summary":"a \"quoted\" word\nand a line`, "a \"quoted\" word\nand a line", false},
		{`{"summary":"caf\u00e9 ok", "rootCause":{`, "café ok", true},
		{`{"summary":"half an escape \`, "half an escape ", false},
		{`{"summary":"half a \u00`, "half a ", false},
		{`{"summary":"emoji \ud83d\ude00!"}`, "emoji 😀!", true},
		{`{"summary":"x \ud83d\ud`, "x ", false},
		{`not json at all`, "", false},
		{`{"summary": 42}`, "", false},
	} {
		got, complete := PreviewSummary(tc.text)
		if got != tc.want || complete != tc.complete {
			t.Errorf("%q: %q %v, want %q %v", tc.text, got, complete, tc.want, tc.complete)
		}
	}
}
