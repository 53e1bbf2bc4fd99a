package sqlite

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

// The migrations, in order: migrations/NNN_name.sql, NNN counting up from 1
// without gaps. A migration, once released, never changes; a change to the
// schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one step of the schema.
type migration struct {
	Version int
	Name    string // the file name without .sql, e.g. "001_incidents"
	SQL     string
}

var migrations = mustLoadMigrations(migrationFiles)

func mustLoadMigrations(fsys fs.FS) []migration {
	m, err := loadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return m
}

// loadMigrations reads migrations/NNN_name.sql files, checking that they
// count 1, 2, 3… without gaps or repeats.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for i, p := range names { // fs.Glob returns names sorted
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

// migrate applies the migrations db lacks, each in its own transaction with
// its row in schema_migrations, so a failed migration leaves the schema as
// the previous one left it. A database whose schema is newer than list
// knows, or whose applied migrations are not list's, is refused.
func migrate(ctx context.Context, db *sql.DB, list []migration) error {
	if _, err := db.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range list {
		if err := applyOne(ctx, db, m, len(list)); err != nil {
			return err
		}
	}
	// Checked again after the loop: with nothing to apply, applyOne never
	// looked at a newer schema.
	return checkApplied(ctx, db, list)
}

// applyOne applies m unless it already is, in one transaction. On the write
// connection BEGIN is IMMEDIATE, so two processes opening one file at once
// apply each migration once: the second waits, then finds it applied.
func applyOne(ctx context.Context, db *sql.DB, m migration, known int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
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
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, encodeTime(time.Now())); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}

// checkApplied refuses a database whose schema_migrations holds a version
// list does not know, or a known version under another name (a file from a
// diverging build).
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
			return fmt.Errorf("the database's migration %d is %q, this MeshWatch's is %q: the file was written by a different build", v, name, want)
		}
	}
	return rows.Err()
}

func newerSchemaError(have, known int) error {
	return fmt.Errorf("the database is at schema version %d, newer than this MeshWatch knows (%d): "+
		"it was written by a newer MeshWatch; upgrade the plugin, or restore a backup made before the upgrade", have, known)
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
