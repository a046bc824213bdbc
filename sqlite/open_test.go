package sqlite_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mewsref/mewsref/sqlite"
)

// readOnly makes path unwritable, even for root (chattr +i), and undoes it
// at the end of the test.
func readOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, fi.Mode().Perm()&^0o222); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(path, fi.Mode().Perm()) })
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("running as root and chattr +i fails, so nothing is read-only here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
}

func TestOpenNamesTheCauseAndPath(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope", "data.db")
		_, err := sqlite.Open(t.Context(), path)
		if err == nil || !strings.Contains(err.Error(), "directory "+filepath.Dir(path)+" of the database file "+path+" does not exist") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("unwritable directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		readOnly(t, dir)
		path := filepath.Join(dir, "data.db")
		_, err := sqlite.Open(t.Context(), path)
		if err == nil || !strings.Contains(err.Error(), "its directory "+dir+" is not writable") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("read-only file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data.db")
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		readOnly(t, path)
		db, err = sqlite.Open(t.Context(), path)
		if err == nil {
			_ = db.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "the database file "+path+" is not writable") {
			t.Errorf("got %v", err)
		}
	})
}
