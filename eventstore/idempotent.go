package eventstore

import "fmt"

// Retried decides what it means that some of an append's event IDs are
// already stored; found holds the stored events with those IDs, in any
// order. It returns the original result and true if the append is a retry
// of one that succeeded (every ID stored, in this stream, in this order,
// at consecutive revisions); false if no ID is stored; and an ErrConflict
// error if only some are, or they are in another stream or order.
func Retried(stream string, events []EventData, found []RecordedEvent) (AppendResult, bool, error) {
	if len(found) == 0 {
		return AppendResult{}, false, nil
	}
	byID := make(map[[16]byte]*RecordedEvent, len(found))
	for i := range found {
		byID[found[i].ID] = &found[i]
	}
	var prev *RecordedEvent
	for i := range events {
		f, ok := byID[events[i].ID]
		switch {
		case !ok:
			return AppendResult{}, false, fmt.Errorf("%w: append to %s: event %s is already stored but %s is not; not a retry of one append", ErrConflict, stream, found[0].ID, events[i].ID)
		case f.Stream != stream:
			return AppendResult{}, false, fmt.Errorf("%w: append to %s: event ID %s is already used in stream %s", ErrConflict, stream, f.ID, f.Stream)
		case prev != nil && f.Revision != prev.Revision+1:
			return AppendResult{}, false, fmt.Errorf("%w: append to %s: event IDs are stored in a different order", ErrConflict, stream)
		}
		prev = f
	}
	return AppendResult{Revision: prev.Revision, Position: prev.Position}, true, nil
}
