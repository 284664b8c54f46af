package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

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

// Inputs expands an input argument into the captures to read, in order,
// with their sizes (0 when unknown): "-" (standard input) and a file are
// themselves; a directory stands for the capture files in it (names ending
// in .pcap, .pcapng or .cap, each optionally .gz); a pattern with * ? or [
// for the files it matches. Several files are sorted by name, which is time
// order for rotated rings (ring_00001_..., ring_00002_...).
func Inputs(arg string) ([]string, []int64, error) {
	if arg == "-" {
		return []string{"-"}, []int64{0}, nil
	}
	var paths []string
	st, err := os.Stat(arg)
	switch {
	case err == nil && st.IsDir():
		ents, err := os.ReadDir(arg)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range ents {
			if e.Type().IsRegular() && isCaptureName(e.Name()) {
				paths = append(paths, filepath.Join(arg, e.Name()))
			}
		}
		if len(paths) == 0 {
			return nil, nil, fmt.Errorf("%s: no capture files (.pcap, .pcapng, .cap, optionally .gz) in the directory", arg)
		}
	case err == nil:
		return []string{arg}, []int64{st.Size()}, nil
	case strings.ContainsAny(arg, "*?["):
		m, gerr := filepath.Glob(arg)
		if gerr != nil {
			return nil, nil, fmt.Errorf("%s: %w", arg, gerr)
		}
		for _, f := range m {
			if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
				paths = append(paths, f)
			}
		}
		if len(paths) == 0 {
			return nil, nil, fmt.Errorf("%s: no file matches", arg)
		}
	default:
		return nil, nil, err
	}
	slices.Sort(paths)
	sizes := make([]int64, len(paths))
	for i, f := range paths {
		if fi, err := os.Stat(f); err == nil {
			sizes[i] = fi.Size()
		}
	}
	return paths, sizes, nil
}

func isCaptureName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	for _, ext := range []string{".pcap", ".pcapng", ".cap"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
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
// sink's write error stops the run early. Reading and decoding run ahead on
// another goroutine; the pipeline sees the records in file order.
func Feed(ctx context.Context, r *pcapng.Reader, size int64, p *pipeline.Pipeline,
	progress func(done, size int64, records uint64), check func() error) error {
	open := func(int) (*pcapng.Reader, io.Closer, error) { return r, io.NopCloser(nil), nil }
	if r.Compressed() {
		size = 0 // offsets count decompressed bytes
	}
	_, err := FeedFiles(ctx, open, []int64{size}, p, progress, check)
	return err
}

// FeedFiles is Feed over several captures read as one, in the order given
// (a rotated ring, a day of files): connections that cross from one file to
// the next continue. open(i) opens the i-th; sizes are their sizes (0 when
// unknown). Up to GOMAXPROCS files are read and decoded at once, ahead of
// the pipeline, which still sees every record in order, so the output is the
// same as reading the files one after the other on one goroutine. It
// returns the frames of all files together (each file numbers its frames
// from 1, as Wireshark does).
func FeedFiles(ctx context.Context, open func(i int) (*pcapng.Reader, io.Closer, error), sizes []int64, p *pipeline.Pipeline,
	progress func(done, size int64, records uint64), check func() error) (uint64, error) {
	return feedFiles(ctx, open, sizes, p, progress, check, nil)
}

// feedFiles is FeedFiles that calls onFile(i) before the first record of
// the i-th file reaches the pipeline (nil: no call).
func feedFiles(ctx context.Context, open func(i int) (*pcapng.Reader, io.Closer, error), sizes []int64, p *pipeline.Pipeline,
	progress func(done, size int64, records uint64), check func() error, onFile func(i int)) (uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var total int64
	for _, n := range sizes {
		total += n
	}
	par := max(1, runtime.GOMAXPROCS(0))
	st := newStock(par)
	outs := make([]*queue, len(sizes))
	started := 0
	start := func(upTo int) {
		for ; started < len(sizes) && started <= upTo; started++ {
			out := newAheadQueue()
			outs[started] = out
			go func(i int) {
				r, c, err := open(i)
				if err != nil {
					out.c <- &ahead{end: err}
					close(out.c)
					return
				}
				defer c.Close()
				readAhead(ctx, r, p.NewDecoder(), out, st)
			}(started)
		}
	}
	var n, frames uint64
	var done int64 // bytes of the files already finished
	for i := range sizes {
		start(i + par - 1)
		if onFile != nil {
			onFile(i)
		}
		var last uint64
		for {
			a, ok := outs[i].get()
			if !ok {
				break
			}
			if a.compressed {
				total = 0 // offsets count decompressed bytes: no fraction to show
			}
			for j := range a.items {
				it := &a.items[j]
				if n&0xffff == 0 && n > 0 {
					if err := ctx.Err(); err != nil {
						return 0, err
					}
					if progress != nil {
						progress(done+a.offset, total, n)
					}
					if check != nil {
						if err := check(); err != nil {
							return 0, err
						}
					}
				}
				n++
				if it.other > 0 {
					rec := &a.others[it.other-1]
					last = rec.Frame
					if err := p.Feed(rec); err != nil {
						return 0, err
					}
					continue
				}
				last = it.pkt.Frame
				p.FeedDecoded(&it.pkt, it.why, it.detail)
			}
			switch {
			case a.end == nil || a.end == io.EOF:
			case errors.Is(a.end, pcapng.ErrNeedMore):
				var nm *pcapng.NeedMoreError
				if errors.As(a.end, &nm) && nm.Offset == 0 {
					// The file ends inside its header: nothing in it can be
					// read. An empty file, /dev/null or a closed stdin, or
					// a few bytes of one: saying "0 packets" would hide it.
					if nm.Have == 0 {
						return 0, fmt.Errorf("%s: offset 0: not a capture: empty (0 bytes)", nm.File)
					}
					unit := "bytes"
					if nm.Have == 1 {
						unit = "byte"
					}
					return 0, fmt.Errorf("%s: offset 0: truncated: the file ends after %d %s, inside its header (%d needed): not a capture", nm.File, nm.Have, unit, nm.Need)
				}
				p.Warn(a.end.Error())
			default:
				return 0, a.end
			}
			if a.end != nil {
				done += a.offset
				p.AddFragStats(a.frag)
			}
			giveBack(st, a)
		}
		frames += last
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p.Finish()
	if progress != nil {
		progress(done, total, n)
	}
	if check != nil {
		return frames, check()
	}
	return frames, nil
}
