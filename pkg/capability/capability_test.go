package capability

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/access"
)

type namedStream string

func (namedStream) Subscribe(context.Context, *access.User, json.RawMessage) ([]byte, error) {
	return nil, nil
}
func (namedStream) Run(context.Context, json.RawMessage, func(*data.Frame) error) error { return nil }

// A family answers the channels under its prefix that open accepts; an exact
// stream path wins over it; everything else is not found.
func TestStreamFamilies(t *testing.T) {
	r := New()
	r.Stream("analysis/all", namedStream("exact"))
	r.StreamFamily("analysis", func(rest string) (Stream, bool) {
		if rest == "7" {
			return namedStream("incident 7"), true
		}
		return nil, false
	})
	for path, want := range map[string]Stream{
		"analysis/7":   namedStream("incident 7"),
		"analysis/all": namedStream("exact"),
		"analysis/8":   nil,
		"analysis/":    nil,
		"analysis":     nil,
		"analysisx/7":  nil,
	} {
		if got := r.StreamAt(path); got != want {
			t.Errorf("StreamAt(%q) = %v, want %v", path, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a second family at the same prefix was accepted")
		}
	}()
	r.StreamFamily("analysis", func(string) (Stream, bool) { return nil, false })
}
