package tmpfstest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a new temporary directory and
// returns the directory. The tmpfs is unmounted when the test ends.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "confab-tmpfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	if err := mount(dir, size); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a tmpfs (CI=true: the test needs root): %v", err)
		}
		t.Skipf("cannot mount a tmpfs (run as root): %v", err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Free returns the bytes available on the filesystem holding dir.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	n, err := free(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Fill writes the file dir/name until at most leave bytes are free on
// dir's filesystem (leave 0: until it is full), and returns its path.
// Removing the file frees the space.
func Fill(t testing.TB, dir, name string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n := Free(t, dir) - leave
		if n <= 0 {
			return path
		}
		if _, err := f.Write(buf[:min(n, int64(len(buf)))]); err != nil {
			if leave == 0 && errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatalf("fill %s: %v", path, err)
		}
	}
}
