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

// The kill -9 test of Regroup: a child regroups ten incidents flat out,
// printing "ack N" only after Regroup returned for grouping N; the parent
// kills it mid-burst and checks that the store holds grouping N or N+1
// whole (the one in flight may have committed), with its merge record.

const (
	regroupChildEnv = "MESHWATCH_SQLITE_REGROUP_KILL9_CHILD" // the database path, in the child
	regroupN        = 10                                     // incidents
)

// grouping is regrouping n of the burst over ids: the root ids[n%10] and
// the next three as its members; the others stand alone. Each step moves
// the root on by one, so every regrouping splits and merges.
func grouping(ids []int64, n int) incident.Regrouping {
	g := incident.MergeGroup{Root: ids[n%regroupN], Reason: "step " + strconv.Itoa(n)}
	for k := 1; k <= 3; k++ {
		g.Members = append(g.Members, ids[(n+k)%regroupN])
	}
	return incident.Regrouping{Scope: ids, Groups: []incident.MergeGroup{g}}
}

// regroupIDs ingests (once) the ten incidents and returns their ids.
func regroupIDs(t testing.TB, s *Store) []int64 {
	var alerts []incident.Alert
	for i := 0; i < regroupN; i++ {
		alerts = append(alerts, alert(t, incident.StatusFiring, t0, fmt.Sprintf("svc-%d", i)))
	}
	if _, err := s.Ingest(context.Background(), t0, incident.Batch{Source: incident.SourceAlertmanager, Alerts: alerts}); err != nil {
		t.Fatal(err)
	}
	l, err := s.List(context.Background(), incident.Filter{})
	if err != nil || len(l) != regroupN {
		t.Fatalf("the incidents: %d, %v", len(l), err)
	}
	ids := make([]int64, regroupN)
	for _, inc := range l {
		n, _ := strconv.Atoi(strings.TrimPrefix(inc.Key.Workload, "svc-"))
		ids[n] = inc.ID
	}
	return ids
}

// TestRegroupKill9Child is the child's side; it does nothing in a normal run.
func TestRegroupKill9Child(t *testing.T) {
	path := os.Getenv(regroupChildEnv)
	if path == "" {
		t.Skip("the regroup kill -9 test's child; runs only under TestAcknowledgedRegroupsSurviveKill9")
	}
	s, err := Open(context.Background(), path, storetest.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	ids := regroupIDs(t, s)
	for n := 0; n < 1_000_000; n++ {
		if _, err := s.Regroup(context.Background(), t0.Add(time.Duration(n)*time.Second), grouping(ids, n)); err != nil {
			fmt.Fprintln(os.Stderr, "child: regroup:", err)
			os.Exit(3)
		}
		if _, err := fmt.Printf("ack %d\n", n); err != nil {
			os.Exit(4)
		}
	}
	os.Exit(5)
}

func TestAcknowledgedRegroupsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "incidents.db")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRegroupKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(), regroupChildEnv+"="+path)
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
			t.Fatalf("child acked %q after %d", sc.Text(), last)
		}
		last = n
		if !killed && last+1 >= killAt {
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
	l, err := s.List(context.Background(), incident.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, regroupN)
	got := map[int64]int64{}
	for _, inc := range l {
		n, _ := strconv.Atoi(strings.TrimPrefix(inc.Key.Workload, "svc-"))
		ids[n] = inc.ID
		got[inc.ID] = inc.MergedInto
	}
	// The state is grouping last's, or the next one's (committed, not yet
	// acknowledged when the kill landed): never a mix.
	committed := -1
	for _, n := range []int{last, last + 1} {
		want := map[int64]int64{}
		for _, id := range ids {
			want[id] = 0
		}
		g := grouping(ids, n).Groups[0]
		for _, m := range g.Members {
			want[m] = g.Root
		}
		if fmt.Sprint(want) == fmt.Sprint(got) {
			committed = n
		}
	}
	if committed < 0 {
		t.Fatalf("after %d acknowledged regroupings the store holds %v: neither the last acknowledged nor the next", last+1, got)
	}
	// Its record is whole: one merge per regrouping, one split per
	// regrouping after the first.
	merges, splits := 0, 0
	seen := map[int64]bool{}
	for _, id := range ids {
		es, err := s.MergeEvents(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			if e.Kind == incident.MergeKindMerge {
				merges++
			} else {
				splits++
			}
		}
	}
	if merges != committed+1 || splits != committed {
		t.Errorf("%d regroupings committed, recorded %d merges and %d splits", committed+1, merges, splits)
	}
	t.Logf("kill -9 after %d acknowledged regroupings: the store holds grouping %d, %d merges and %d splits recorded; child: %v",
		last+1, committed, merges, splits, werr)
}
