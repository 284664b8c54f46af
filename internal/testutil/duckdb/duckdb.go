// Package duckdb runs SQL with a real DuckDB for tests, through the npm
// package @duckdb/node-api, so the tcpviz binary stays free of cgo. The
// package is looked for in $TCPVIZ_DUCKDB_NODE (a directory holding
// node_modules), then in the user cache directory, where it is installed
// with npm when missing; tests skip, saying why, when neither works.
package duckdb

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Version is the npm package version installed when none is found.
const Version = "1.5.6-r.1"

//go:embed query.cjs
var script []byte

// DB runs queries.
type DB struct {
	api string // absolute path of node_modules/@duckdb/node-api
}

var (
	once    sync.Once
	found   *DB
	whyNone string
)

// Open returns a DuckDB runner or skips the test.
func Open(t testing.TB) *DB {
	t.Helper()
	once.Do(func() { found, whyNone = locate() })
	if found == nil {
		t.Skipf("DuckDB unavailable: %s (set TCPVIZ_DUCKDB_NODE to a directory with node_modules/@duckdb/node-api, or install node and npm)", whyNone)
	}
	return found
}

func locate() (*DB, string) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, "node not found"
	}
	var dirs []string
	if d := os.Getenv("TCPVIZ_DUCKDB_NODE"); d != "" {
		dirs = append(dirs, d)
	}
	cache := ""
	if c, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(c, "tcpviz", "duckdb-node")
		dirs = append(dirs, cache)
	}
	for _, d := range dirs {
		if db := at(d); db != nil {
			return db, ""
		}
	}
	if cache == "" {
		return nil, "no cache directory to install @duckdb/node-api into"
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return nil, "npm not found to install @duckdb/node-api"
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err.Error()
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", cache, "@duckdb/node-api@"+Version)
	done := make(chan error, 1)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err.Error()
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Sprintf("npm install @duckdb/node-api: %v: %s", err, bytes.TrimSpace(out.Bytes()))
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		return nil, "npm install @duckdb/node-api took over 3 minutes"
	}
	if db := at(cache); db != nil {
		return db, ""
	}
	return nil, "npm installed nothing usable into " + cache
}

func at(dir string) *DB {
	api, err := filepath.Abs(filepath.Join(dir, "node_modules", "@duckdb", "node-api"))
	if err != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(api, "package.json")); err != nil {
		return nil
	}
	return &DB{api: api}
}

// Query is one named statement.
type Query struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// Row is one result row: column name to value (numbers as float64, BIGINT
// as string, NULL as nil).
type Row map[string]any

// Run executes the queries in one DuckDB instance.
func (db *DB) Run(qs []Query) (map[string][]Row, error) {
	in, err := json.Marshal(qs)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "-e", string(script))
	cmd.Env = append(os.Environ(), "DUCKDB_NODE_API="+db.api)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("duckdb: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var out map[string][]Row
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("duckdb output: %w", err)
	}
	return out, nil
}

// Int reads an integer column (BIGINT arrives as a string).
func (r Row) Int(col string) (int64, error) {
	switch v := r[col].(type) {
	case string:
		var n int64
		_, err := fmt.Sscan(v, &n)
		return n, err
	case float64:
		return int64(v), nil
	case nil:
		return 0, fmt.Errorf("column %s is NULL", col)
	default:
		return 0, fmt.Errorf("column %s: %T", col, v)
	}
}

// Float reads a numeric column; ok is false for NULL.
func (r Row) Float(col string) (v float64, ok bool, err error) {
	switch x := r[col].(type) {
	case float64:
		return x, true, nil
	case string:
		_, err := fmt.Sscan(x, &v)
		return v, err == nil, err
	case nil:
		return 0, false, nil
	default:
		return 0, false, fmt.Errorf("column %s: %T", col, x)
	}
}

// String reads a text column.
func (r Row) String(col string) string {
	s, _ := r[col].(string)
	return s
}
