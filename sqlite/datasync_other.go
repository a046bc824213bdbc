//go:build !linux

package sqlite

import "os"

// datasync makes the data written to f durable (F_FULLFSYNC on macOS).
func datasync(f *os.File) error { return f.Sync() }

// syncDir is a no-op: not every system can sync a directory (SQLite
// ignores the failure too), and SQLite syncs the log's directory itself at
// its first sync of the log.
func syncDir(string) error { return nil }
