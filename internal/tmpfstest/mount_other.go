//go:build !linux

package tmpfstest

import (
	"errors"
	"fmt"
	"runtime"
)

// errNoTmpfs: the full-disk tests mount a tmpfs, which only Linux has;
// Mount skips them elsewhere (CI runs on Linux).
var errNoTmpfs = fmt.Errorf("no tmpfs on %s: %w", runtime.GOOS, errors.ErrUnsupported)

func mount(string, int64) error  { return errNoTmpfs }
func unmount(string) error       { return errNoTmpfs }
func free(string) (int64, error) { return 0, errNoTmpfs }
