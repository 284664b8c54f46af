package sessionfiles

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/pcapng"
)

// Input is an opened capture: a file, or standard input for "-".
type Input struct {
	io.Reader
	Name string // the path, or "stdin"
	Size int64  // bytes of a regular file; 0 when unknown
	file *os.File
}

// OpenInput opens path, or stdin (os.Stdin when nil) for "-".
func OpenInput(path string, stdin io.Reader) (*Input, error) {
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return &Input{Reader: stdin, Name: "stdin"}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in := &Input{Reader: f, Name: path, file: f}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		in.Size = st.Size()
	}
	return in, nil
}

// Close closes the file; standard input is left open.
func (in *Input) Close() error {
	if in.file == nil {
		return nil
	}
	return in.file.Close()
}

// Feed reads every record of r into p, then finishes p. A capture cut short
// inside a block (a crash, a copy in progress) counts up to its last complete
// block, with a warning. Every 64k records it checks ctx, reports progress
// (bytes consumed, size or 0 when unknown, records) and calls check, so a
// sink's write error stops the run early.
func Feed(ctx context.Context, r *pcapng.Reader, size int64, p *pipeline.Pipeline,
	progress func(done, size int64, records uint64), check func() error) error {
	total := func() int64 {
		if r.Compressed() {
			return 0 // offsets count decompressed bytes
		}
		return size
	}
	var n uint64
	for ; ; n++ {
		if n&0xffff == 0 && n > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(r.Offset(), total(), n)
			}
			if check != nil {
				if err := check(); err != nil {
					return err
				}
			}
		}
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, pcapng.ErrNeedMore) {
			p.Warn(err.Error())
			break
		}
		if err != nil {
			return err
		}
		if err := p.Feed(rec); err != nil {
			return err
		}
	}
	p.Finish()
	if progress != nil {
		progress(r.Offset(), total(), n)
	}
	if check != nil {
		return check()
	}
	return nil
}
