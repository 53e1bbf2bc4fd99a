package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/postgres"
	"github.com/meshwatch/meshwatch/pkg/incident/sqlite"
)

// table is one table the migration copies, in an order that satisfies the
// foreign keys: its columns, its key (the copy's order) and which columns
// SQLite keeps as 0/1 and PostgreSQL as booleans.
type table struct {
	name, order string
	cols        []string
	bools       map[string]bool
	// identity is the column whose sequence must continue past the copied
	// ids (SQLite's AUTOINCREMENT never reuses an id; neither may the copy).
	identity string
}

var tables = []table{
	{name: "incidents", order: "id", identity: "id", bools: map[string]bool{"flapping": true},
		cols: []string{"id", "group_key", "namespace", "workload", "alertname", "state", "severity", "title", "summary",
			"started_at", "resolved_at", "updated_at", "reopens", "flapping", "alerts", "firing", "version", "top_finding"}},
	{name: "records", order: "incident_id, fingerprint", bools: map[string]bool{"listed": true},
		cols: []string{"incident_id", "fingerprint", "status", "labels", "annotations", "starts_at", "ends_at",
			"generator_url", "source", "first_seen", "last_seen", "listed"}},
	{name: "evidence", order: "incident_id", cols: []string{"incident_id", "captured_at", "pack", "findings", "partial"}},
	{name: "merge_events", order: "id", identity: "id", cols: []string{"id", "at", "kind", "root_id", "members", "reason"}},
	{name: "audit_log", order: "seq", cols: []string{"seq", "at", "login", "name", "role", "action", "subject", "incident",
		"before", "after", "comment", "prev", "hash"}},
	{name: "decisions", order: "subject", cols: []string{"subject", "incident", "status", "version", "body", "updated_at",
		"login", "name", "role"}},
	{name: "analyses", order: "id", identity: "id", cols: []string{"id", "incident_id", "evidence_at", "started_at", "finished_at",
		"model", "basis", "outcome", "result"}},
}

// Count is one table's rows in the source and in the target.
type Count struct {
	Table          string
	Source, Target int
}

// MigrateResult is what a migration copied and found.
type MigrateResult struct {
	Counts []Count
	// Chain is the audit chain's verification in the target.
	Chain audit.Verdict
	// Head is the chain's last hash, the same in the source and the target.
	Head string
}

// Migrate copies everything in the SQLite file at from (brought up to the
// current schema first) into the PostgreSQL database at dsn (its schema
// made), in one transaction: incidents with their ids, records, evidence,
// merges, the audit chain and the decisions, the write-ups. The target must
// be empty. Afterwards it compares every table's count and verifies the
// audit chain in the target (and that its head is the source's). Errors
// never carry the DSN's password.
func Migrate(ctx context.Context, from, dsn string) (MigrateResult, error) {
	var res MigrateResult
	if _, err := os.Stat(from); err != nil {
		return res, fmt.Errorf("the SQLite file: %w", err)
	}
	cfg := incident.Config{Rules: incident.DefaultRules}
	src, err := sqlite.Open(ctx, from, cfg) // migrates an older file to the current schema
	if err != nil {
		return res, err
	}
	_ = src.Close()
	sdb, err := sql.Open("sqlite", from+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return res, err
	}
	defer sdb.Close()
	dst, err := postgres.Open(ctx, dsn, cfg)
	if err != nil {
		return res, err
	}
	defer dst.Close()

	// One read transaction on the file: the copy is one snapshot of it.
	stx, err := sdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return res, err
	}
	defer func() { _ = stx.Rollback() }()
	tx, err := dst.DB().BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer func() { _ = tx.Rollback() }()
	for _, tb := range tables {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tb.name).Scan(&n); err != nil {
			return res, err
		}
		if n > 0 {
			return res, fmt.Errorf("the target database is not empty (%s has %d rows): migrate into a new database", tb.name, n)
		}
	}
	for _, tb := range tables {
		n, err := copyTable(ctx, stx, tx, tb)
		if err != nil {
			return res, fmt.Errorf("copy %s: %w", tb.name, err)
		}
		res.Counts = append(res.Counts, Count{Table: tb.name, Source: n})
	}
	// merged_into last: a member may name a root copied after it.
	if err := copyMerges(ctx, stx, tx); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}

	// Counts, read back from both.
	for i := range res.Counts {
		c := &res.Counts[i]
		if err := dst.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.Table).Scan(&c.Target); err != nil {
			return res, err
		}
		var src int
		if err := stx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.Table).Scan(&src); err != nil {
			return res, err
		}
		if src != c.Source || c.Target != c.Source {
			return res, fmt.Errorf("%s: %d rows in the file, %d copied, %d in the target", c.Table, src, c.Source, c.Target)
		}
	}
	es, err := dst.Entries(ctx, audit.Query{})
	if err != nil {
		return res, err
	}
	res.Chain = audit.Verify(es)
	if !res.Chain.OK {
		return res, fmt.Errorf("the audit chain does not verify in the target: %+v", res.Chain.Break)
	}
	var srcHead sql.NullString
	if err := stx.QueryRowContext(ctx, "SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&srcHead); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, err
	}
	if len(es) > 0 {
		res.Head = es[len(es)-1].Hash
	}
	if res.Head != srcHead.String {
		return res, fmt.Errorf("the audit chain's head is %q in the target, %q in the file", res.Head, srcHead.String)
	}
	return res, nil
}

func copyTable(ctx context.Context, src, dst *sql.Tx, tb table) (int, error) {
	cols := strings.Join(tb.cols, ", ")
	rows, err := src.QueryContext(ctx, "SELECT "+cols+" FROM "+tb.name+" ORDER BY "+tb.order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	ph := make([]string, len(tb.cols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	insert := "INSERT INTO " + tb.name + " (" + cols + ") VALUES (" + strings.Join(ph, ", ") + ")"
	n := 0
	vals := make([]any, len(tb.cols))
	ptrs := make([]any, len(tb.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		args := make([]any, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			if tb.bools[tb.cols[i]] {
				iv, ok := v.(int64)
				if !ok {
					return n, fmt.Errorf("%s.%s holds %v, not 0 or 1", tb.name, tb.cols[i], v)
				}
				v = iv != 0
			}
			args[i] = v
		}
		if _, err := dst.ExecContext(ctx, insert, args...); err != nil {
			return n, fmt.Errorf("row %d: %w", n+1, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if tb.identity != "" {
		// Past every id the file ever gave (sqlite_sequence), not only the
		// ones still there: a pruned incident's id is never reused.
		var next int64
		err := src.QueryRowContext(ctx, `SELECT MAX(v) FROM (SELECT COALESCE(MAX(`+tb.identity+`), 0) AS v FROM `+tb.name+`
			UNION ALL SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0))`, tb.name).Scan(&next)
		if err != nil {
			return n, err
		}
		if next > 0 {
			if _, err := dst.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3)`, tb.name, tb.identity, next); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func copyMerges(ctx context.Context, src, dst *sql.Tx) error {
	rows, err := src.QueryContext(ctx, `SELECT id, merged_into FROM incidents WHERE merged_into IS NOT NULL ORDER BY id`)
	if err != nil {
		return fmt.Errorf("copy merges: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, root int64
		if err := rows.Scan(&id, &root); err != nil {
			return fmt.Errorf("copy merges: %w", err)
		}
		if _, err := dst.ExecContext(ctx, `UPDATE incidents SET merged_into = $1 WHERE id = $2`, root, id); err != nil {
			return fmt.Errorf("copy merges: incident %d: %w", id, err)
		}
	}
	return rows.Err()
}

// Command is "store migrate --from sqlite:PATH --to postgres:DSN": the
// plugin binary's and the meshwatch tool's command line for Migrate. It
// prints the counts side by side and the chain's verification, and returns
// the exit code.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: store migrate --from sqlite:PATH --to postgres:DSN\n\n"+
			"Copies MeshWatch's SQLite file (incidents, evidence, write-ups, the sign-off audit trail) into an empty\n"+
			"PostgreSQL database for Grafana in HA, then compares the counts and verifies the audit chain.\n"+
			"The DSN may also come from $MESHWATCH_STORE_DSN (--to postgres:env), to keep its password out of ps.")
		return 2
	}
	if len(args) == 0 || args[0] != "migrate" {
		return usage()
	}
	var from, to string
	rest := args[1:]
	for len(rest) > 0 {
		flag := rest[0]
		val := ""
		if k, v, ok := strings.Cut(flag, "="); ok {
			flag, val = k, v
			rest = rest[1:]
		} else if len(rest) > 1 {
			val, rest = rest[1], rest[2:]
		} else {
			return usage()
		}
		switch flag {
		case "--from", "-from":
			from = val
		case "--to", "-to":
			to = val
		default:
			fmt.Fprintf(stderr, "store migrate: unknown flag %s\n", flag)
			return usage()
		}
	}
	path, ok1 := strings.CutPrefix(from, "sqlite:")
	dsn, ok2 := strings.CutPrefix(to, "postgres:")
	if !ok1 || !ok2 || path == "" || dsn == "" {
		return usage()
	}
	if dsn == "env" {
		dsn = os.Getenv("MESHWATCH_STORE_DSN")
	}
	_, target, err := postgres.ParseDSN(dsn)
	if err != nil {
		fmt.Fprintf(stderr, "store migrate: %v\n", err)
		return 1
	}
	res, err := Migrate(ctx, path, dsn)
	if err != nil {
		fmt.Fprintf(stderr, "store migrate: %v\n", postgres.Redact(err, dsn))
		return 1
	}
	fmt.Fprintf(stdout, "migrated %s -> postgres://%s\n\n%-14s %8s %8s\n", path, target, "table", "sqlite", "postgres")
	for _, c := range res.Counts {
		fmt.Fprintf(stdout, "%-14s %8d %8d\n", c.Table, c.Source, c.Target)
	}
	fmt.Fprintf(stdout, "\naudit chain: %d entries verify, head %s (the same as the file's)\n", res.Chain.Entries, short(res.Head))
	return 0
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	if h == "" {
		return "(empty)"
	}
	return h
}
