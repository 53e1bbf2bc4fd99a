package analysis

import (
	"testing"

	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
)

// A prompt over budget is the same kind of error whether MeshWatch's
// estimate or Ollama finds it.
func TestBudgetKindIsOllamasContextTooSmall(t *testing.T) {
	if KindBudget != string(ollama.ErrContextTooSmall) {
		t.Errorf("KindBudget %q, ollama.ErrContextTooSmall %q", KindBudget, ollama.ErrContextTooSmall)
	}
}
