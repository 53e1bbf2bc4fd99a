package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// The migrations, in order: migrations/NNN_name.sql, the same versions and
// names as the SQLite driver's (a database says which schema it has in the
// same terms whichever driver wrote it). Released migrations never change.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	Version int
	Name    string
	SQL     string
}

var migrations = mustLoadMigrations(migrationFiles)

// Migrations returns the versions and names of the schema's steps.
func Migrations() []string {
	out := make([]string, len(migrations))
	for i, m := range migrations {
		out[i] = m.Name
	}
	return out
}

func mustLoadMigrations(fsys fs.FS) []migration {
	m, err := loadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return m
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for i, p := range names {
		name := strings.TrimSuffix(path.Base(p), ".sql")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 3 {
			return nil, fmt.Errorf("migration %s: the name is not NNN_name.sql", p)
		}
		if v != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", p, i+1)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{Version: v, Name: name, SQL: string(b)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no migrations found")
	}
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// migrate applies the migrations db lacks, each in its own transaction
// (PostgreSQL's DDL is transactional) under the migration advisory lock, so
// replicas starting at once apply each migration once: the others wait,
// then find it applied. A newer or diverging schema is refused.
func migrate(ctx context.Context, db *sql.DB, list []migration) error {
	for _, m := range list {
		if err := applyOne(ctx, db, m, len(list)); err != nil {
			return err
		}
	}
	return checkApplied(ctx, db, list)
}

func applyOne(ctx context.Context, db *sql.DB, m migration, known int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := xactLock(ctx, tx, lockMigrate); err != nil {
		return fmt.Errorf("migration %s: lock: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var newest int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if newest > known {
		return newerSchemaError(newest, known)
	}
	if newest >= m.Version {
		return nil
	}
	if newest != m.Version-1 {
		return fmt.Errorf("migration %s: the database is at schema version %d, expected %d", m.Name, newest, m.Version-1)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, encodeTime(time.Now())); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}

func checkApplied(ctx context.Context, db *sql.DB, list []migration) error {
	rows, err := db.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if v > len(list) {
			return newerSchemaError(v, len(list))
		}
		if v < 1 {
			return fmt.Errorf("the database's schema_migrations holds version %d, which no MeshWatch writes", v)
		}
		if want := list[v-1].Name; name != want {
			return fmt.Errorf("the database's migration %d is %q, this MeshWatch's is %q: it was written by a different build", v, name, want)
		}
	}
	return rows.Err()
}

func newerSchemaError(have, known int) error {
	return fmt.Errorf("the database is at schema version %d, newer than this MeshWatch knows (%d): "+
		"it was written by a newer MeshWatch; upgrade the plugin on every replica", have, known)
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
