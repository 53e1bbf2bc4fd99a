package harness

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// A Session gives programs the harness' T: failures end Do with an error
// instead of a test, and Close undoes everything in reverse order.
func TestSession(t *testing.T) {
	s, err := NewSession(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	err = s.Do(func(t T) {
		dir := t.TempDir()
		if !strings.HasPrefix(dir, s.Dir()) {
			t.Fatalf("temp dir %s outside %s", dir, s.Dir())
		}
		t.Cleanup(func() { order = append(order, "first") })
		t.Cleanup(func() { order = append(order, "second") })
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Do(func(t T) {
		t.Fatalf("harness: %s not ready", "loki")
		order = append(order, "after Fatal") // never runs
	})
	if err == nil || err.Error() != "harness: loki not ready" || !s.Failed() {
		t.Errorf("Do after Fatalf: %v, failed %v", err, s.Failed())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"second", "first"}) {
		t.Errorf("cleanups ran %v", order)
	}
	if _, err := os.Stat(s.Dir()); !os.IsNotExist(err) {
		t.Errorf("session dir left behind: %v", err)
	}
}

func TestSessionMissingBinary(t *testing.T) {
	t.Setenv("MESHWATCH_TOOLS", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "")
	s, err := NewSession(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Do(func(t T) { RequireBinary(t, BinLoki) })
	if err == nil || !strings.Contains(err.Error(), "loki not found") || !strings.Contains(err.Error(), "install-tools.sh") {
		t.Errorf("missing binary: %v", err)
	}
}
