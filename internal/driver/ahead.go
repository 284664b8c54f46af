package driver

import (
	"context"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/pcapng"
)

// Reading and decoding run ahead of the pipeline on their own goroutine (one
// per input file), handing over batches of decoded records in file order.
// The pipeline — connections, detectors, writers — sees exactly the
// records, in exactly the order, a single goroutine would give it, so the
// output is the same; only the wall time changes.

// batchLen is the records per batch: large enough that the hand-off costs
// nothing per record, small enough that a batch stays in cache.
const batchLen = 256

// arenaLen is the bytes of record data a batch copies; a record that does
// not fit gets its own allocation.
const arenaLen = 128 << 10

// ahead is a batch of records read and decoded ahead of the pipeline.
type ahead struct {
	items  []item
	arena  []byte
	offset int64 // reader offset after the last record
	end    error // the reader's error after the last record; nil when more follow
	// compressed: the file is gzip'd, offset counts decompressed bytes.
	compressed bool
	// frag is the decoder's reassembly counters, in the file's last batch.
	frag decode.FragStats
}

type item struct {
	rec    pcapng.Record
	pkt    events.Packet
	why    decode.SkipReason
	detail decode.Detail // what was unsupported, for SkipUnsupported and SkipLinkType
}

// keep copies b into the batch's arena: the reader reuses its buffer.
func (a *ahead) keep(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(a.arena)+len(b) > cap(a.arena) {
		return append([]byte(nil), b...)
	}
	n := len(a.arena)
	a.arena = append(a.arena, b...)
	return a.arena[n:len(a.arena):len(a.arena)]
}

// readAhead reads r to its end (or its first error) into batches on out,
// decoding packets with dec (its own), then closes out. It stops early
// when ctx is done. free returns batches the pipeline has finished with.
func readAhead(ctx context.Context, r *pcapng.Reader, dec *decode.Decoder, out chan<- *ahead, free chan *ahead) {
	defer close(out)
	for {
		var a *ahead
		select {
		case a = <-free:
		default:
			a = &ahead{items: make([]item, 0, batchLen), arena: make([]byte, 0, arenaLen)}
		}
		a.items, a.arena, a.end = a.items[:0], a.arena[:0], nil
		for len(a.items) < batchLen {
			rec, err := r.Next()
			if err != nil {
				a.end = err
				break
			}
			// Filled in place: building the item (half a kilobyte) and
			// copying it in was a quarter of this goroutine's time.
			n := len(a.items)
			a.items = a.items[:n+1]
			it := &a.items[n]
			it.rec = *rec
			it.pkt = events.Packet{}
			it.why, it.detail = decode.SkipNone, decode.Detail{}
			it.rec.Data = a.keep(rec.Data)
			it.rec.CustomData = a.keep(rec.CustomData)
			it.rec.Comment = a.keep(rec.Comment)
			if rec.Type == pcapng.RecordPacket {
				it.pkt.TS = rec.TS // fragment reassembly times out on capture time
				if ok, why := dec.Decode(pipeline.LinkType(rec), it.rec.Data, rec.OrigLen, &it.pkt); ok {
					it.why = decode.SkipNone
				} else {
					it.why, it.detail = why, dec.Detail()
				}
			}
		}
		a.offset, a.compressed = r.Offset(), r.Compressed()
		if a.end != nil {
			dec.Flush() // datagrams never completed in this file
			a.frag = dec.FragStats()
		}
		select {
		case out <- a:
		case <-ctx.Done():
			return
		}
		if a.end != nil {
			return
		}
	}
}
