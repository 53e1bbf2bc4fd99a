package harness

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// Durable keeps fsync and synchronous commits on (what a benchmark
	// comparing stores wants); off by default: tests kill the plugin, never
	// the database, and run faster without them.
	Durable bool
}

// Postgres is a running PostgreSQL server: a cluster made by initdb in a
// temporary directory, listening on a random loopback port, with trust
// authentication for its one superuser.
type Postgres struct {
	Host string // 127.0.0.1
	Port int
	User string // the superuser, "meshwatch"
	Dir  string // the cluster's directory

	dbs atomic.Int64
}

// postgresBinDirs is where Debian's PostgreSQL server binaries live (newest
// version first); PATH is tried after them.
func postgresBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	return dirs
}

// postgresBinary finds a PostgreSQL server binary (postgres, initdb): in
// Debian's /usr/lib/postgresql/N/bin, then PATH. Missing: skipped, or
// failed under CI (.ci/run installs Debian's postgresql package).
func postgresBinary(t T, name string) string {
	t.Helper()
	for _, d := range postgresBinDirs() {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	missing(t, "PostgreSQL's %s not found in /usr/lib/postgresql/*/bin nor in PATH; apt-get install postgresql (.ci/run does)", name)
	return ""
}

// StartPostgres runs initdb in a temporary directory and starts PostgreSQL
// on a random loopback port (its unix socket in that directory), then waits
// until it accepts connections. It is stopped in t.Cleanup. When the tests
// run as root, the server runs as Debian's postgres user (PostgreSQL refuses
// root).
func StartPostgres(t T, opts PostgresOptions) *Postgres {
	t.Helper()
	bin := postgresBinary(t, "postgres")
	initdb := postgresBinary(t, "initdb")
	uid, gid, ok := postgresUser()
	if !ok {
		missing(t, "PostgreSQL cannot run as root and there is no postgres or nobody user")
	}
	// Not t.TempDir: its 0700 parent would keep the postgres user out.
	dir, err := os.MkdirTemp("", "meshwatch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	for _, d := range []string{dir, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil && os.Geteuid() == 0 {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	pg := &Postgres{Host: "127.0.0.1", User: "meshwatch", Dir: dir}
	cmd := exec.Command(initdb, "-D", data, "-U", pg.User, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir = dir
	runAs(cmd, uid, gid)
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("harness: initdb: %v\n%s", err, out)
	}
	t.Logf("harness: initdb in %s", time.Since(t0).Round(time.Millisecond))
	durable := "off"
	if opts.Durable {
		durable = "on"
	}
	start(t, func() spec {
		pg.Port = freePort(t)
		return spec{
			name: "postgres",
			bin:  bin,
			dir:  dir,
			args: []string{"-D", data,
				"-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-k", dir,
				"-c", "fsync=" + durable, "-c", "synchronous_commit=" + durable, "-c", "full_page_writes=" + durable,
				"-c", "shared_buffers=16MB", "-c", "max_connections=60", "-c", "dynamic_shared_memory_type=mmap",
				"-c", "log_min_messages=warning", "-c", "logging_collector=off",
			},
			timeout: 60 * time.Second,
			ready:   pg.ready,
			prepare: func(c *exec.Cmd) { runAs(c, uid, gid) },
		}
	})
	return pg
}

// DSN is the URL of database db (trust authentication: no password).
func (pg *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", pg.User, pg.Host, pg.Port, db)
}

func (pg *Postgres) ready(ctx context.Context) error {
	db, err := sql.Open("pgx", pg.DSN("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// Exec runs statements in database db as the superuser.
func (pg *Postgres) Exec(t T, db string, stmts ...string) {
	t.Helper()
	conn, err := sql.Open("pgx", pg.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("harness: postgres %s: %q: %v", db, q, err)
		}
	}
}

// NewDatabase creates an empty database and returns its DSN.
func (pg *Postgres) NewDatabase(t T) string {
	t.Helper()
	name := fmt.Sprintf("mw_%d", pg.dbs.Add(1))
	pg.Exec(t, "postgres", "CREATE DATABASE "+name)
	return pg.DSN(name)
}
