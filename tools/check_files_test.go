// Package tools_test tests the repository checks of tools/ that CI runs.
package tools_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repo makes a git repository with files (path -> content, executable when
// the path ends in "*") and returns its directory.
func repo(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			name, mode = strings.TrimSuffix(name, "*"), 0o755
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, mode); err != nil {
			t.Fatal(err)
		}
	}
	git("add", "-A")
	return dir
}

func checkFiles(t *testing.T, dir string) (string, error) {
	t.Helper()
	out, err := exec.Command("bash", "check-files.sh", dir).CombinedOutput()
	return string(out), err
}

func TestCheckFilesPassesOnSourcesAndAllowedFiles(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3<<20)
	dir := repo(t, map[string][]byte{
		"main.go":                     []byte("package main\n"),
		"tools/run.sh*":               []byte("#!/bin/sh\necho hi\n"), // an executable script is text
		"logo.png":                    {0x89, 'P', 'N', 'G', 0, 0, 0, 0},
		"empty":                       {},
		"server/docs/redoc.js":        big,
		"tools/npm/package-lock.json": big,
	})
	if out, err := checkFiles(t, dir); err != nil {
		t.Errorf("failed on allowed files: %v\n%s", err, out)
	}
}

func TestCheckFilesFailsOnBinariesAndLargeFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		data []byte
		want string
	}{
		{"ELF", "mewsref", append([]byte{0x7f, 'E', 'L', 'F'}, make([]byte, 64)...), "mewsref is an executable binary"},
		{"Mach-O", "bin/tool", append([]byte{0xcf, 0xfa, 0xed, 0xfe}, make([]byte, 64)...), "bin/tool is an executable binary"},
		{"executable bit and not text", "run*", []byte{'#', 0, 1, 2, 0, 3}, "run is an executable binary"},
		{"larger than 2 MB", "data/dump.sql", bytes.Repeat([]byte("x"), 2<<20+1), "data/dump.sql is 2097153 bytes, more than 2 MB"},
		{"large outside the allowed docs", "server/docs.bin", bytes.Repeat([]byte("x"), 3<<20), "server/docs.bin is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := repo(t, map[string][]byte{"main.go": []byte("package main\n"), tc.file: tc.data})
			out, err := checkFiles(t, dir)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("want a failure naming %q, got %v:\n%s", tc.want, err, out)
			}
		})
	}
}

// go install github.com/mewsref/mewsref/cmd/mewsref@latest (README, Set-up)
// refuses a module whose go.mod has replace or exclude directives.
func TestGoModAllowsGoInstallAtVersion(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if lines[0] != "module github.com/mewsref/mewsref" {
		t.Errorf("go.mod names %q; the README installs github.com/mewsref/mewsref/cmd/mewsref", lines[0])
	}
	for i, line := range lines {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "replace" || f[0] == "exclude") {
			t.Errorf("go.mod:%d: %s: go install ...@latest refuses a module with %s directives", i+1, line, f[0])
		}
	}
}
