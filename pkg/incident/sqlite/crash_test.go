package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/storetest"
)

// The kill -9 test re-runs this test binary as a child that ingests batches
// in a loop and prints "ack N" for batch N only after Ingest returned for
// it. The parent kills it with SIGKILL mid-burst, opens the file again and
// checks that every acknowledged batch is stored, whole.

const (
	childEnv       = "MESHWATCH_SQLITE_KILL9_CHILD" // the database path, in the child
	crashBatchSize = 20
	crashPerBatch  = 5   // workloads in one batch
	crashWorkloads = 100 // workloads in all
)

// crashBatch is batch n of the burst: crashBatchSize new firing alerts of
// crashPerBatch workloads (of crashWorkloads in turn, as Alertmanager
// groups them), each labelled with its batch.
func crashBatch(t testing.TB, n int) []incident.Alert {
	out := make([]incident.Alert, crashBatchSize)
	for i := range out {
		w := (n*crashPerBatch + i%crashPerBatch) % crashWorkloads
		out[i] = alert(t, incident.StatusFiring, t0.Add(time.Duration(n)*time.Second),
			fmt.Sprintf("web-%d", w), "batch", strconv.Itoa(n), "instance", fmt.Sprintf("10.42.%d.%d:8080", n%250, i))
	}
	return out
}

// TestKill9Child is the child's side; it does nothing in a normal run.
func TestKill9Child(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("the kill -9 test's child; runs only under TestAcknowledgedBatchesSurviveKill9")
	}
	s, err := Open(context.Background(), path, storetest.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	for n := 0; n < 1_000_000; n++ {
		b := incident.Batch{Source: incident.SourceAlertmanager, Alerts: crashBatch(t, n)}
		if _, err := s.Ingest(context.Background(), t0.Add(time.Duration(n)*time.Second), b); err != nil {
			fmt.Fprintln(os.Stderr, "child: ingest:", err)
			os.Exit(3)
		}
		// os.Stdout is unbuffered: the line is in the pipe when this returns.
		if _, err := fmt.Printf("ack %d\n", n); err != nil {
			os.Exit(4) // the parent is gone
		}
	}
	os.Exit(5) // never killed
}

func TestAcknowledgedBatchesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "incidents.db")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Kill after a few hundred acknowledgements, at a point that varies
	// from run to run, while the child is ingesting flat out.
	killAt := 150 + int(time.Now().UnixNano()%100)
	acked := map[int]bool{}
	last := -1
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		num, ok := strings.CutPrefix(line, "ack ")
		if !ok {
			continue // the testing package's own output
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("child printed %q", line)
		}
		acked[n], last = true, max(last, n)
		if !killed && len(acked) >= killAt {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	// Acks still in the pipe when the kill landed were printed after their
	// Ingest returned: they count too.
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("the child ended before it was killed: %v\n%s", werr, stderr.String())
	}
	if len(acked) != last+1 {
		t.Fatalf("acks are not 0..%d: %d of them", last, len(acked))
	}

	s, err := Open(context.Background(), path, storetest.Config)
	if err != nil {
		t.Fatalf("open after kill -9: %v", err)
	}
	defer s.Close()
	l, err := s.List(context.Background(), incident.Filter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	perBatch := map[int]int{}
	stored := 0
	for _, inc := range l {
		_, recs, err := s.Get(context.Background(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != inc.Alerts {
			t.Errorf("incident %s counts %d alerts, holds %d", inc.Key, inc.Alerts, len(recs))
		}
		for _, r := range recs {
			n, err := strconv.Atoi(r.Labels["batch"])
			if err != nil {
				t.Fatalf("record without a batch label: %v", r.Labels)
			}
			perBatch[n]++
			stored++
		}
	}
	lost := 0
	for n := range acked {
		if perBatch[n] != crashBatchSize {
			lost += crashBatchSize - perBatch[n]
			t.Errorf("acknowledged batch %d: %d of %d alerts stored", n, perBatch[n], crashBatchSize)
		}
	}
	unacked := 0
	for n, c := range perBatch {
		if c != crashBatchSize {
			t.Errorf("batch %d stored in part: %d of %d alerts (a batch is one transaction)", n, c, crashBatchSize)
		}
		if !acked[n] {
			unacked++
		}
	}
	if unacked > 1 {
		t.Errorf("%d batches stored that were never acknowledged; at most the one in flight may be", unacked)
	}
	t.Logf("kill -9 after %d acknowledged batches (%d alerts): %d alerts stored, %d acknowledged lost, "+
		"%d batch(es) committed but not yet acknowledged when killed; child: %v",
		len(acked), len(acked)*crashBatchSize, stored, lost, unacked, werr)
}
