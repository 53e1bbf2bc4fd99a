package ha

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// One of two replicas is active; when it goes (its lease closed, or its
// session ended by the server) the other takes over within the lease time,
// and the health status names the holder from either side.
func TestPostgresLeaseOneActiveAndTakeover(t *testing.T) {
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	dsn := pg.NewDatabase(t)
	const every = 200 * time.Millisecond
	a, err := NewPostgres(dsn, PostgresOptions{Replica: "grafana-0", Every: every})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !waitFor(5*time.Second, a.Active) {
		t.Fatal("the only replica never became active")
	}
	b, err := NewPostgres(dsn, PostgresOptions{Replica: "grafana-1", Every: every})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	time.Sleep(5 * every)
	if !a.Active() || b.Active() {
		t.Fatalf("want grafana-0 active alone, got a=%v b=%v", a.Active(), b.Active())
	}
	ctx := context.Background()
	st, err := b.Status(ctx)
	if err != nil || st.Holder != "grafana-0" || st.Active || st.Replica != "grafana-1" {
		t.Fatalf("b's status: %+v, %v", st, err)
	}

	// The server ends the holder's session (as it does when the holder's
	// host vanishes and the session idles out): the holder stops, b takes over.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
		appPrefix+"grafana-0"); err != nil {
		t.Fatal(err)
	}
	if !waitFor(a.LeaseTime()+time.Second, func() bool { return b.Active() }) {
		t.Fatal("grafana-1 did not take over")
	}
	time.Sleep(5 * every)
	if a.Active() && b.Active() {
		t.Fatal("two replicas active at once")
	}

	// Closing the holder hands over at once.
	holder, other := b, a
	if a.Active() {
		holder, other = a, b
	}
	t0 := time.Now()
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(a.LeaseTime()+time.Second, other.Active) {
		t.Fatal("no takeover after the holder closed its lease")
	}
	t.Logf("takeover %s after the holder closed", time.Since(t0).Round(time.Millisecond))
}

func TestAlwaysActive(t *testing.T) {
	l := Always("solo")
	st, err := l.Status(context.Background())
	if !l.Active() || err != nil || st.Holder != "solo" {
		t.Fatalf("%+v %v", st, err)
	}
}
