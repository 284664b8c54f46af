package pcapng

import (
	"errors"
	"fmt"
)

// ErrNeedMore matches (with errors.Is) every *NeedMoreError.
var ErrNeedMore = errors.New("need more data")

// NeedMoreError reports that the input ended inside a block. Offset is where
// that block starts; Have bytes of it were read and Need are required (Need is
// the size of the length-carrying header when the length is not known yet).
// For a file still being written, call Next again later; at a real end of
// input the file is truncated.
type NeedMoreError struct {
	File   string
	Offset int64
	Have   int
	Need   int
}

func (e *NeedMoreError) Error() string {
	return fmt.Sprintf("%s: offset %d: truncated block: have %d of %d bytes", e.File, e.Offset, e.Have, e.Need)
}

// Is makes errors.Is(err, ErrNeedMore) true.
func (e *NeedMoreError) Is(target error) bool { return target == ErrNeedMore }

// FormatError reports malformed input: the file, the byte offset of the block
// or record at fault, and what is wrong with it.
type FormatError struct {
	File   string
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Msg)
}
