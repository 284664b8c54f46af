package pcapng

import (
	"errors"
	"fmt"
)

// resyncWindow bounds how far Resync looks past a damaged block.
const resyncWindow = 2 * MaxBlockLen

// Resync moves past a damaged block of a pcapng section, for a reader of a
// file that is still being written (a follower must not lose what comes
// after one bad block). After Next returned a *FormatError, or a
// *NeedMoreError for a block whose announced length never fills although
// the file goes on, Resync looks from the byte after that block's start for
// the next block of the section: a known block type with a length Next
// accepts and the same length at its end (a section header with a valid
// byte-order magic). Reading goes on there, with the section's byte order
// and interfaces; from is the damaged block's offset and skipped the bytes
// passed over. With no such block complete in the bytes available, Resync
// returns a *NeedMoreError and may be called again when more arrive;
// beyond 32 MiB, or for classic pcap input, it gives up with an error.
func (r *Reader) Resync() (from, skipped int64, err error) {
	if r.state != statePcapNG || r.sect < 0 {
		return r.off, 0, fmt.Errorf("%s: offset %d: cannot resynchronise: not inside a pcapng section", r.name, r.off)
	}
	from, first := r.off, 4 // first: where to look, from r.start
	var fe *FormatError
	if errors.As(r.err, &fe) {
		from = fe.Offset
		if fe.Offset < r.off {
			// The block was consumed before its body was found bad: the
			// reader already stands at the next block.
			first = 0
		}
	}
	// Everything available, up to the window.
	for r.end-r.start < resyncWindow {
		before := r.end - r.start
		if err := r.fill(min(before+preferredBuf, resyncWindow)); err != nil || r.end-r.start == before {
			break
		}
	}
	b := r.buf[:r.end] // the fills may have moved the bytes
	first += r.start
	// A block announced but not complete yet may be the next one; but when
	// a complete valid block starts inside its span, it was a chance match
	// in the damaged bytes.
	wait := -1
	for i := first; i+12 <= r.end; i += 4 {
		typ, n := r.u32(b[i:]), r.u32(b[i+4:])
		if !knownBlock(typ) {
			continue
		}
		if typ == blockSHB {
			bom := b[i+8 : i+12]
			if !(bom[0] == 0x4d && bom[1] == 0x3c && bom[2] == 0x2b && bom[3] == 0x1a) &&
				!(bom[0] == 0x1a && bom[1] == 0x2b && bom[2] == 0x3c && bom[3] == 0x4d) {
				continue
			}
		} else if n < 12 || n%4 != 0 || n > MaxBlockLen {
			continue
		} else if i+int(n) > r.end {
			if wait < 0 {
				wait = i
			}
			continue
		} else if r.u32(b[i+int(n)-4:]) != n {
			continue
		}
		skipped = int64(i - r.start)
		r.consume(i - r.start)
		r.err = nil
		return from, skipped, nil
	}
	if wait >= 0 {
		return from, 0, &NeedMoreError{File: r.name, Offset: r.off + int64(wait-r.start), Have: r.end - wait, Need: int(r.u32(b[wait+4:]))}
	}
	if r.end-r.start >= resyncWindow {
		return from, 0, fmt.Errorf("%s: offset %d: cannot resynchronise: no valid block in the next %d bytes", r.name, from, resyncWindow)
	}
	return from, 0, &NeedMoreError{File: r.name, Offset: r.off, Have: r.end - r.start, Need: r.end - r.start + 12}
}

func knownBlock(typ uint32) bool {
	switch typ {
	case blockIDB, blockSPB, blockNRB, blockISB, blockEPB, blockCustom, blockCustomCopy, blockSHB:
		return true
	}
	return false
}
