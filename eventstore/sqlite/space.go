package sqlite

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/dustin/go-humanize"
)

// MinFree is the free space a store keeps on its filesystem: below it,
// appends are refused with eventstore.ErrUnavailable before SQLite would
// fail in the middle of a transaction. The zero value keeps nothing (the
// check is off).
type MinFree struct {
	bytes   uint64
	percent float64 // of the filesystem's size, if > 0
}

// DefaultMinFree is the threshold of Open: 256 MB.
var DefaultMinFree = MinFree{bytes: 256_000_000}

// ParseMinFree parses a threshold: a size ("256MB", "1GiB", "500000000")
// or a percentage of the filesystem's size ("5%"); "0" turns the check
// off.
func ParseMinFree(s string) (MinFree, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f >= 100 {
			return MinFree{}, fmt.Errorf("min free disk %q: want a size (256MB, 1GiB) or a percentage below 100%% (5%%)", s)
		}
		return MinFree{percent: f}, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return MinFree{}, fmt.Errorf("min free disk %q: want a size (256MB, 1GiB) or a percentage below 100%% (5%%)", s)
	}
	return MinFree{bytes: n}, nil
}

// String formats m as ParseMinFree reads it.
func (m MinFree) String() string {
	if m.percent > 0 {
		return strconv.FormatFloat(m.percent, 'f', -1, 64) + "%"
	}
	if m.bytes == 0 {
		return "0"
	}
	return strings.ReplaceAll(humanize.Bytes(m.bytes), " ", "")
}

// of returns the threshold in bytes on a filesystem of size bytes.
func (m MinFree) of(size uint64) uint64 {
	if m.percent > 0 {
		return uint64(float64(size) * m.percent / 100)
	}
	return m.bytes
}

// errNoStatfs: this system cannot tell the free space.
var errNoStatfs = errors.New("no statfs on this system")

// spaceEvery is how long a free-space reading is trusted.
const spaceEvery = 100 * time.Millisecond

// writeAmplification estimates the disk space one byte of appended event
// costs until the next reading: its WAL frame, its copy into the database
// at the checkpoint, the indexes.
const writeAmplification = 3

// space checks the free space of the store's filesystem before the writer
// commits. It reads the filesystem (statfs) at most every spaceEvery, and
// sooner when what the writer stored since the last reading may have used
// up the margin above the threshold, so that the hot path costs a lock and
// a few additions. Its methods are safe for concurrent use.
type space struct {
	dir string
	min MinFree
	now func() time.Time

	mu      sync.Mutex
	at      time.Time // of the last reading; zero: read again
	free    uint64    // available to unprivileged users, at the last reading
	limit   uint64    // the threshold in bytes, at the last reading
	written uint64    // estimated bytes used since the last reading
	err     error     // the outcome of the last reading
}

func newSpace(dir string, min MinFree) *space {
	return &space{dir: dir, min: min, now: time.Now}
}

// check returns nil if the writer may store about n more bytes, else an
// error wrapping eventstore.ErrUnavailable that says how much is free.
func (s *space) check(n int) error {
	if s == nil || s.min == (MinFree{}) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	need := s.written + uint64(n)*writeAmplification
	now := s.now()
	if s.at.IsZero() || now.Sub(s.at) >= spaceEvery || s.free < s.limit+need {
		s.readLocked(now)
		need = uint64(n) * writeAmplification
	}
	if s.err != nil {
		return s.err
	}
	s.written = need
	return nil
}

// stale makes the next check read the filesystem: SQLite failed for want
// of space, or space may have been freed.
func (s *space) stale() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.at = time.Time{}
	s.mu.Unlock()
}

// state reads the filesystem now and returns nil if the writer may write.
func (s *space) state() error {
	if s == nil || s.min == (MinFree{}) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked(s.now())
	return s.err
}

func (s *space) readLocked(now time.Time) {
	free, size, err := statfs(s.dir)
	s.at, s.written = now, 0
	switch {
	case errors.Is(err, errNoStatfs):
		s.free, s.limit, s.err = ^uint64(0), 0, nil
	case err != nil:
		// Unknown: let SQLite try (it maps a full disk to
		// ErrUnavailable itself), and read again next time.
		s.at = time.Time{}
		s.free, s.limit, s.err = ^uint64(0), 0, nil
	default:
		s.free, s.limit = free, s.min.of(size)
		s.err = nil
		if free < s.limit {
			s.err = fmt.Errorf("%w: disk almost full: %s free, below %s", eventstore.ErrUnavailable,
				humanize.Bytes(free), humanize.Bytes(s.limit))
		}
	}
}
