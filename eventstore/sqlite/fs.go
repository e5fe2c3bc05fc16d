package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	return sub
}

// Modes of the store's directory and files: events hold password hashes
// and messages, for the server's user only.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// createFile creates the database file at path, if missing, with
// fileMode whatever the umask. SQLite gives the -wal and -shm files it
// creates later the mode of the database file.
func createFile(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Chmod(fileMode); err != nil { // the umask may have taken bits
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return nil
}

// Tightened is a file or directory whose mode TightenModes changed.
type Tightened struct {
	Path     string
	Old, New fs.FileMode
}

// TightenModes takes the group's and others' permissions away from the
// store at path, its -wal and -shm files and its directory, where they
// exist with more (a store created by an older version, or with a lax
// umask), and reports what it changed.
func TightenModes(path string) ([]Tightened, error) {
	var out []Tightened
	for _, p := range []string{filepath.Dir(path), path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("sqlite: %w", err)
		}
		old := fi.Mode().Perm()
		if old&0o077 == 0 {
			continue
		}
		mode := old &^ 0o077
		if err := os.Chmod(p, mode); err != nil {
			return out, fmt.Errorf("sqlite: tighten the mode of %s: %w", p, err)
		}
		out = append(out, Tightened{Path: p, Old: old, New: mode})
	}
	return out, nil
}
