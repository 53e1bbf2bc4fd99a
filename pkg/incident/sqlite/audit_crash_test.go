package sqlite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/incident/storetest"
)

// The audit kill -9 test: a child proposes a suggestion and decides it
// over and over (each decision a version up), printing "ack N" only after
// decision N's Record returned. The parent kills it with SIGKILL mid-burst,
// opens the file again and checks that every acknowledged decision is
// there, the subject's version matches the entries, and the chain verifies.

const auditChildEnv = "MESHWATCH_AUDIT_KILL9_CHILD"

func TestAuditKill9Child(t *testing.T) {
	path := os.Getenv(auditChildEnv)
	if path == "" {
		t.Skip("the audit kill -9 test's child; runs only under TestAcknowledgedDecisionsSurviveKill9")
	}
	s, err := Open(context.Background(), path, storetest.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	l := &audit.Log{Store: s}
	ctx := context.Background()
	if _, err := l.Record(ctx, audit.Entry{Actor: audit.System, Action: audit.Propose, Subject: "1:1:1", Incident: 1},
		&audit.Change{Status: "pending", Body: json.RawMessage(`{}`)}); err != nil {
		fmt.Fprintln(os.Stderr, "child: propose:", err)
		os.Exit(3)
	}
	for n := 0; n < 1_000_000; n++ {
		status := []string{"approved", "edited"}[n%2]
		if _, err := l.Record(ctx, audit.Entry{Actor: audit.Actor{Login: "eddie", Role: "Editor"}, Action: audit.Edit,
			Subject: "1:1:1", Incident: 1, Comment: strconv.Itoa(n)}, &audit.Change{From: int64(n + 1), Status: status}); err != nil {
			fmt.Fprintln(os.Stderr, "child: decide:", err)
			os.Exit(4)
		}
		if _, err := fmt.Printf("ack %d\n", n); err != nil {
			os.Exit(5)
		}
	}
	os.Exit(6)
}

func TestAcknowledgedDecisionsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "audit.db")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAuditKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(), auditChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killAt := 100 + int(time.Now().UnixNano()%100)
	last, killed := -1, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		num, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n != last+1 {
			t.Fatalf("child printed %q after ack %d", sc.Text(), last)
		}
		last = n
		if !killed && n+1 >= killAt {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("the child ended before it was killed: %v\n%s", werr, stderr.String())
	}
	s, err := Open(context.Background(), path, storetest.Config)
	if err != nil {
		t.Fatalf("open after kill -9: %v", err)
	}
	defer s.Close()
	es, err := s.Entries(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Subject(context.Background(), "1:1:1")
	if err != nil {
		t.Fatal(err)
	}
	// Entry 1 is the proposal; decision n is entry n+2. An unacknowledged
	// last decision may have committed too.
	if got := len(es) - 2; got != last && got != last+1 {
		t.Errorf("%d decisions stored, %d acknowledged (0..%d)", got+1, last+1, last)
	}
	if st.Version != int64(len(es)) {
		t.Errorf("the subject is at version %d with %d entries: the state and the chain disagree", st.Version, len(es))
	}
	if v := audit.Verify(es); !v.OK {
		t.Errorf("the chain after kill -9: %+v", v.Break)
	}
	t.Logf("killed after %d acknowledged decisions; %d entries stored, chain intact", last+1, len(es))
}
