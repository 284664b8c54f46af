package session

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNewDirNeverReuses(t *testing.T) {
	base := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		dir, err := NewDir(base, now)
		if err != nil {
			t.Fatal(err)
		}
		if seen[dir] {
			t.Fatalf("session %s handed out twice", dir)
		}
		seen[dir] = true
		if i == 0 && filepath.Base(dir) != "session_20260102_030405" {
			t.Errorf("first session named %s", filepath.Base(dir))
		}
	}
}

func TestFileCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("final name exists before commit: %v", err)
	}
	f.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("abort left %d files", len(ents))
	}
	if err := WriteFile(path, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "whole" {
		t.Fatalf("read back %q, %v", b, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
}

// Writes through File keep every byte and, for a durable file only, start
// the disk's writeback chunk by chunk, from where the last one ended.
func TestFileWriteback(t *testing.T) {
	for _, tc := range []struct {
		durable    bool
		wantChunks int64 // writeback started for at least this many chunks
	}{
		{durable: false, wantChunks: 0},
		{durable: true, wantChunks: 2},
	} {
		t.Run(fmt.Sprintf("durable=%v", tc.durable), func(t *testing.T) {
			SetDurable(tc.durable)
			t.Cleanup(func() { SetDurable(false) })
			path := filepath.Join(t.TempDir(), "events.jsonl")
			f, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Abort()
			SetDurable(!tc.durable) // the setting at Create counts
			want := make([]byte, 0, 2*writebackChunk+12345)
			for i := 0; len(want) < cap(want); i++ {
				b := make([]byte, min(1000+i%4096, cap(want)-len(want)))
				for j := range b {
					b[j] = byte(i + j)
				}
				if n, err := f.Write(b); err != nil || n != len(b) {
					t.Fatalf("write %d bytes: %d, %v", len(b), n, err)
				}
				want = append(want, b...)
				if f.written != int64(len(want)) || f.started > f.written || (tc.durable && f.written-f.started >= writebackChunk) {
					t.Fatalf("after %d bytes: written %d, writeback started to %d", len(want), f.written, f.started)
				}
			}
			if tc.durable && f.started < tc.wantChunks*writebackChunk || !tc.durable && f.started != 0 {
				t.Errorf("writeback started to %d of %d bytes, want %d chunks", f.started, len(want), tc.wantChunks)
			}
			if err := f.Commit(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("file holds %d bytes, %d written, or other bytes", len(got), len(want))
			}
		})
	}
}
