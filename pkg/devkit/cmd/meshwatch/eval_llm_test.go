package main

import (
	"strings"
	"testing"
)

// --ollama's settings are checked before any scenario runs.
func TestEvalOllamaBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--ollama", "127.0.0.1:11434"}, "ollama.url"},
		{[]string{"eval", "--ollama", "http://127.0.0.1:11434", "--num-ctx", "100"}, "ollama.numCtx: 100 is out of range"},
		{[]string{"eval", "--ollama", "http://127.0.0.1:11434", "--num-predict", "9000"}, "ollama.numPredict"},
		{[]string{"eval", "--ollama", "http://127.0.0.1:11434", "--model", "phi3 mini"}, "ollama.model"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q; want code 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
