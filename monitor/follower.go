package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/pcapng"
)

// FollowConfig says what to follow and how.
type FollowConfig struct {
	// Path is a file, a glob (wildcards in the file name only), a
	// directory, a symlink re-pointed at the newest file, or the -w name of
	// a rotating capture whose files carry sequence numbers.
	Path string
	// PollInterval is how often the files are checked without a file
	// system notification (default 1s): the only mechanism when fsnotify
	// cannot watch, a safety net otherwise.
	PollInterval time.Duration
	// NoNotify disables fsnotify (polling only).
	NoNotify bool
	// FromStart reads the files that exist at start-up; by default they are
	// skipped up to their current end and only new bytes are processed.
	FromStart bool
	// NoFollow reads the files that exist at start-up from their start (it
	// implies FromStart) and stops at their end: Run returns once a pass
	// has read the last file to its end, or to its last complete block, and
	// found no newer file.
	NoFollow bool
	// Log receives notices: truncated or replaced files, gaps, errors
	// (nil: discarded).
	Log io.Writer
}

// FollowStats are the follower's counters.
type FollowStats struct {
	Files    int    // files opened for reading (including the start file)
	Records  uint64 // records handed on (packets, custom and stats blocks)
	Skipped  uint64 // records of existing files skipped at start-up
	Gaps     int    // files deleted or missing before they were read
	Restarts int    // files read again from the start (truncated or replaced)
	Errors   int    // files abandoned on a format or read error
	Damaged  int    // damaged blocks skipped, the file read on after them
}

// Handler receives each record with the file it came from. The record is
// valid only during the call.
type Handler = driver.Handler

// Follower reads capture files as they are written and rotated. It is
// driven by one goroutine (Run).
type Follower struct {
	cfg   FollowConfig
	src   source
	cur   *openFile
	last  string // the last file read, once closed
	stats FollowStats
	now   func() time.Time
	// caughtUp, when set, is called each time every byte available has
	// been handed on.
	caughtUp func()
	// beforeList, when set, is called before each look at the directory
	// (tests: a writer that rotates right then).
	beforeList func()
	// passes finished, and the file and bytes read at the end of the last
	// one, for tests that wait until what they wrote was read.
	passDone atomic.Int64
	// drainedPass is the number of the last pass that read the current
	// file to its end and then found no newer file in a listing: once a
	// writer has finished, a pass that started after it and did so has
	// handed on everything (tests wait for it instead of sleeping).
	drainedPass atomic.Int64
	readMu      sync.Mutex
	readFile    string
	readUpTo    int64
	readSnap    FollowStats
}

// readPosition is the file being read, how many of its bytes were read and
// the counters, as of the last pass.
func (f *Follower) readPosition() (string, int64, FollowStats) {
	f.readMu.Lock()
	defer f.readMu.Unlock()
	return f.readFile, f.readUpTo, f.readSnap
}

// source lists the files of what is followed, in reading order.
type source interface {
	files() ([]string, error)
	// after returns the files of list that come after cur.
	after(cur string, list []string) []string
	// seq returns a file's sequence number when its name has one.
	seq(path string) (int, bool)
	// dirs to watch.
	dirs() []string
	// start is the file --from-start begins with ("" for the oldest).
	start() string
	String() string
}

// NewFollower checks the path and decides how to follow it.
func NewFollower(cfg FollowConfig) (*Follower, error) {
	if cfg.Path == "" {
		return nil, errors.New("follow: no path given")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	src, err := newSource(cfg.Path)
	if err != nil {
		return nil, err
	}
	return &Follower{cfg: cfg, src: src, now: time.Now}, nil
}

func newSource(path string) (source, error) {
	if hasGlobMeta(path) {
		dir, pat := filepath.Split(path)
		if hasGlobMeta(dir) {
			return nil, fmt.Errorf("follow %s: wildcards are allowed in the file name only", path)
		}
		if _, err := filepath.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("follow %s: %w", path, err)
		}
		return &seriesSource{s: globSeries(filepath.Clean(dir), pat)}, nil
	}
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s := baseSeries(path)
		if _, err := os.Stat(s.dir); err != nil {
			return nil, fmt.Errorf("follow %s: %w", path, err)
		}
		return &seriesSource{s: s}, nil
	case err != nil:
		return nil, fmt.Errorf("follow %s: %w", path, err)
	case st.Mode()&fs.ModeSymlink != 0:
		return newLinkSource(path)
	case st.IsDir():
		return &seriesSource{s: dirSeries(filepath.Clean(path))}, nil
	case st.Mode().IsRegular():
		return &seriesSource{s: seriesFor(path), first: filepath.Clean(path)}, nil
	}
	return nil, fmt.Errorf("follow %s: not a file, directory or symlink", path)
}

// seriesSource follows the files of a series in natural name order.
type seriesSource struct {
	s     *series
	first string // the file named on the command line, if any
}

func (s *seriesSource) files() ([]string, error) { return s.s.list() }

func (s *seriesSource) after(cur string, list []string) []string {
	name := filepath.Base(cur)
	for i, p := range list {
		if naturalLess(name, filepath.Base(p)) {
			return list[i:]
		}
	}
	return nil
}

func (s *seriesSource) seq(path string) (int, bool) { return s.s.seq(filepath.Base(path)) }
func (s *seriesSource) dirs() []string              { return []string{s.s.dir} }
func (s *seriesSource) start() string               { return s.first }
func (s *seriesSource) String() string              { return s.s.desc }

// linkSource follows a symlink re-pointed at the newest file: each new
// target is read after the previous one. When old and new targets belong
// to the same numbered series, the files between them are read too.
type linkSource struct {
	link string
	hist []string // targets in the order seen (and series files between)
}

func newLinkSource(link string) (*linkSource, error) {
	l := &linkSource{link: filepath.Clean(link)}
	if _, err := l.files(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *linkSource) target() (string, error) {
	t, err := os.Readlink(l.link)
	if err != nil {
		return "", fmt.Errorf("follow %s: %w", l.link, err)
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(l.link), t)
	}
	return filepath.Clean(t), nil
}

func (l *linkSource) files() ([]string, error) {
	t, err := l.target()
	if err != nil {
		return l.hist, err
	}
	if n := len(l.hist); n > 0 && l.hist[n-1] == t {
		return l.hist, nil
	}
	if n := len(l.hist); n > 0 {
		prev := l.hist[n-1]
		if s := seriesFor(prev); filepath.Dir(t) == s.dir && s.match(filepath.Base(t)) && s.match(filepath.Base(prev)) {
			if between, err := s.list(); err == nil {
				for _, p := range between {
					if naturalLess(filepath.Base(prev), filepath.Base(p)) && naturalLess(filepath.Base(p), filepath.Base(t)) {
						l.hist = append(l.hist, p)
					}
				}
			}
		}
	}
	l.hist = append(l.hist, t)
	return l.hist, nil
}

func (l *linkSource) after(cur string, list []string) []string {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i] == cur {
			return list[i+1:]
		}
	}
	return list
}

func (l *linkSource) seq(path string) (int, bool) {
	return seriesFor(path).seq(filepath.Base(path))
}

func (l *linkSource) dirs() []string {
	d := []string{filepath.Dir(l.link)}
	if n := len(l.hist); n > 0 && filepath.Dir(l.hist[n-1]) != d[0] {
		d = append(d, filepath.Dir(l.hist[n-1]))
	}
	return d
}

func (l *linkSource) start() string  { return "" }
func (l *linkSource) String() string { return l.link + " (symlink)" }

// openFile is the file being read.
type openFile struct {
	path   string
	f      *os.File
	r      *pcapng.Reader
	cr     countingReader
	ino    uint64
	dev    uint64
	skip   bool // start-up: read without handing records on
	ended  error
	failed bool
	// partialSince is when the file was first seen ending inside a block
	// while a newer file existed.
	partialSince time.Time
	// The block the file ended inside, when first seen so, and the bytes
	// read then: a block that stays incomplete while the file grows has a
	// damaged length.
	pendAt    int64
	pendSince time.Time
	pendBytes int64
	// damaged is the error of a damaged block while no valid block after
	// it has arrived yet.
	damaged error
}

// countingReader counts the bytes read from the file, to notice a file
// that became shorter than what was read.
type countingReader struct {
	f *os.File
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n += int64(n)
	return n, err
}

func (f *Follower) open(path string, skip bool) (*openFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	o := &openFile{path: path, f: fh, skip: skip}
	o.dev, o.ino = fileID(st)
	o.cr.f = fh
	o.r = pcapng.NewReader(&o.cr, path)
	f.stats.Files++
	return o, nil
}

// restart reads the current file again from its first byte.
func (f *Follower) restart(o *openFile) error {
	if _, err := o.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%s: %w", o.path, err)
	}
	o.cr.n = 0
	o.r = pcapng.NewReader(&o.cr, o.path)
	o.ended, o.failed, o.skip, o.damaged = nil, false, false, nil
	o.partialSince, o.pendSince = time.Time{}, time.Time{}
	f.stats.Restarts++
	return nil
}

func (f *Follower) logf(format string, args ...any) {
	fmt.Fprintf(f.cfg.Log, "monitor: "+format+"\n", args...)
}

// Stats returns the counters (only from the goroutine running Run, or
// after it returned).
func (f *Follower) Stats() FollowStats { return f.stats }

// Current is the file being read ("" before the first one).
func (f *Follower) Current() string {
	if f.cur != nil {
		return f.cur.path
	}
	return f.last
}

// Run follows the files until ctx is done, handing every new record to h.
// It returns nil when ctx is cancelled, or the first error of h.
func (f *Follower) Run(ctx context.Context, h Handler) error {
	var events <-chan fsnotify.Event
	var werrs <-chan error
	if !f.cfg.NoNotify && !f.cfg.NoFollow {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			f.logf("file notifications unavailable (%v); polling every %v", err, f.cfg.PollInterval)
		} else {
			defer w.Close()
			for _, d := range f.src.dirs() {
				if err := w.Add(d); err != nil {
					f.logf("cannot watch %s (%v); polling every %v", d, err, f.cfg.PollInterval)
				}
			}
			events, werrs = w.Events, w.Errors
		}
	}
	defer func() {
		if f.cur != nil {
			f.cur.f.Close()
		}
	}()
	if err := f.begin(); err != nil {
		return err
	}
	tick := time.NewTicker(f.cfg.PollInterval)
	defer tick.Stop()
	list := true
	for {
		if err := f.step(ctx, h, list); err != nil {
			return err
		}
		if ctx.Err() != nil || f.cfg.NoFollow && f.drainedPass.Load() == f.passDone.Load() {
			return nil
		}
		list = false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			list = true
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			list = f.needsList(ev)
			// Coalesce a burst of notifications into one pass.
			for more := true; more; {
				select {
				case ev, ok := <-events:
					if !ok {
						events, more = nil, false
						break
					}
					list = list || f.needsList(ev)
				default:
					more = false
				}
			}
		case err, ok := <-werrs:
			if !ok {
				werrs = nil
				continue
			}
			f.logf("file notifications: %v (the poll interval still applies)", err)
			list = true
		}
	}
}

// needsList says whether a notification may announce a new file (or a
// re-pointed symlink) rather than new bytes in the current one.
func (f *Follower) needsList(ev fsnotify.Event) bool {
	return f.cur == nil || ev.Name != f.cur.path || !ev.Has(fsnotify.Write)
}

// begin opens the start file: with FromStart the first file of the series,
// otherwise the newest file, whose existing records are skipped.
func (f *Follower) begin() error {
	list, err := f.src.files()
	if err != nil {
		f.logf("%v", err)
	}
	if f.cfg.FromStart || f.cfg.NoFollow {
		if s := f.src.start(); s != "" {
			list = []string{s} // the named file first, then its successors
		}
		f.openNext(list)
		return nil
	}
	for i := len(list) - 1; i >= 0; i-- {
		o, err := f.open(list[i], true)
		if err != nil {
			continue
		}
		f.cur = o
		return nil
	}
	return nil
}

// openNext opens the first of next that can be opened, reporting the ones
// that vanished and the numbers missing in between.
func (f *Follower) openNext(next []string) {
	for _, p := range next {
		f.reportGap(f.last, p)
		f.last = p
		o, err := f.open(p, false)
		if err == nil {
			f.cur = o
			return
		}
		if errors.Is(err, fs.ErrNotExist) {
			f.stats.Gaps++
			f.logf("gap: %s was deleted before it was read", p)
			continue
		}
		f.stats.Errors++
		f.logf("skipping %v", err)
	}
}

func (f *Follower) reportGap(prev, next string) {
	if prev == "" {
		return
	}
	a, ok1 := f.src.seq(prev)
	b, ok2 := f.src.seq(next)
	if ok1 && ok2 && b > a+1 {
		f.stats.Gaps += b - a - 1
		f.logf("gap: %d file(s) between %s and %s are missing (deleted by the ring before they were read?)",
			b-a-1, filepath.Base(prev), filepath.Base(next))
	}
}

// step reads everything available and moves on to newer files when the
// current one is finished. list asks for a look at the directory.
func (f *Follower) step(ctx context.Context, h Handler, list bool) error {
	defer func() {
		f.readMu.Lock()
		if f.cur != nil {
			f.readFile, f.readUpTo = f.cur.path, f.cur.cr.n
		}
		f.readSnap = f.stats
		f.readMu.Unlock()
		f.passDone.Add(1)
	}()
	for {
		if f.cur != nil {
			if err := f.drain(ctx, h); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			if f.checkReplaced() {
				continue
			}
		}
		if !list && f.cur != nil {
			break
		}
		if f.beforeList != nil {
			f.beforeList()
		}
		next := f.nextFiles()
		if len(next) == 0 {
			f.drainedPass.Store(f.passDone.Load() + 1) // this pass's number
			break
		}
		if f.cur != nil {
			// The end of the file was seen before the directory was
			// listed: the writer may have added its last blocks in
			// between, then rotated. A writer finishes a file before it
			// creates the next one, so only an end seen after a listing
			// that shows a newer file is the true end.
			read := f.cur.cr.n
			if err := f.drain(ctx, h); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			if f.cur.cr.n != read {
				continue
			}
		}
		if !f.finished(f.cur) {
			break
		}
		if f.cur != nil {
			f.cur.f.Close()
			f.last = f.cur.path
			f.cur = nil
		}
		f.openNext(next)
		if f.cur == nil {
			break
		}
	}
	if f.caughtUp != nil {
		f.caughtUp()
	}
	return nil
}

// nextFiles lists the files after the current (or last) one. A directory
// read while files are created may show a newer file but miss an older
// one (entries come in hash order, not creation order): when the first
// file listed is not the next number, the directory is read again, and
// that second listing, started after the newer file was seen, has every
// file created before it.
func (f *Follower) nextFiles() []string {
	cur := f.last
	if f.cur != nil {
		cur = f.cur.path
	}
	for try := 0; ; try++ {
		files, err := f.src.files()
		if err != nil {
			f.logf("%v", err)
		}
		if cur == "" {
			return files
		}
		next := f.src.after(cur, files)
		if try > 0 || len(next) == 0 {
			return next
		}
		a, ok1 := f.src.seq(cur)
		b, ok2 := f.src.seq(next[0])
		if !ok1 || !ok2 || b <= a+1 {
			return next
		}
	}
}

// finished says whether the follower may leave o for a newer file: o ended
// at a block boundary, failed, or has ended inside a block for a while
// (a writer that rotated does not come back to finish it).
func (f *Follower) finished(o *openFile) bool {
	switch {
	case o == nil || o.failed || o.ended == io.EOF:
		return true
	case o.damaged != nil:
		f.stats.Errors++
		f.logf("%s: no valid block after the damaged one at offset %d; moving on to the next file", o.path, o.r.Offset())
		return true
	case errors.Is(o.ended, pcapng.ErrNeedMore):
		now := f.now()
		if o.partialSince.IsZero() {
			o.partialSince = now
			return false
		}
		if now.Sub(o.partialSince) < 2*f.cfg.PollInterval {
			return false
		}
		f.logf("%v; moving on to the next file", o.ended)
		return true
	}
	return false
}

// drain hands on every complete record of the current file.
func (f *Follower) drain(ctx context.Context, h Handler) error {
	o := f.cur
	if o.failed {
		return nil
	}
	for n := 0; ; n++ {
		if n&0xfff == 0xfff && ctx.Err() != nil {
			return nil
		}
		rec, err := o.r.Next()
		if err != nil {
			o.ended = err
			var nm *pcapng.NeedMoreError
			var fe *pcapng.FormatError
			switch {
			case err == io.EOF:
			case errors.As(err, &nm):
				if f.stuck(o, nm) && f.resync(o, fmt.Errorf("%w, and the file went on growing: the block's length is damaged", err)) {
					continue
				}
			case errors.As(err, &fe):
				if f.resync(o, err) {
					continue
				}
			default:
				o.failed = true
				f.stats.Errors++
				f.logf("%v; skipping the rest of this file", err)
			}
			// The start-up part ends at the first end of available bytes.
			o.skip = false
			return nil
		}
		o.ended = nil
		o.partialSince = time.Time{}
		if o.skip {
			f.stats.Skipped++
			continue
		}
		f.stats.Records++
		if err := h(o.path, rec); err != nil {
			return err
		}
	}
}

// stuck says whether the block the file ends inside has stayed incomplete
// for two poll intervals while more bytes arrived: a writer finishes the
// block it started before writing on, so its length is damaged.
func (f *Follower) stuck(o *openFile, nm *pcapng.NeedMoreError) bool {
	if o.pendSince.IsZero() || nm.Offset != o.pendAt {
		o.pendAt, o.pendSince, o.pendBytes = nm.Offset, f.now(), o.cr.n
		return false
	}
	return f.now().Sub(o.pendSince) >= 2*f.cfg.PollInterval && o.cr.n > o.pendBytes
}

// resync skips a damaged block to the next valid one of the file and says
// whether reading can go on. Until such a block has arrived the file stays
// where it is; a file that cannot be resynchronised is abandoned.
func (f *Follower) resync(o *openFile, cause error) bool {
	from, skipped, err := o.r.Resync()
	switch {
	case err == nil:
		if o.damaged == nil {
			f.logf("%v", cause)
		}
		f.stats.Damaged++
		f.logf("%s: skipped %d damaged bytes from offset %d; reading on at offset %d", o.path, skipped, from, o.r.Offset())
		o.damaged, o.pendSince = nil, time.Time{}
		return true
	case errors.Is(err, pcapng.ErrNeedMore):
		if o.damaged == nil {
			f.logf("%v; waiting for the next valid block", cause)
		}
		o.damaged = cause
		return false
	}
	o.failed = true
	f.stats.Errors++
	f.logf("%v; %v; skipping the rest of this file", cause, err)
	return false
}

// checkReplaced notices a current file that was truncated (size below what
// was read) or replaced (its name now refers to another file), and starts
// it over. It reports whether it did.
func (f *Follower) checkReplaced() bool {
	o := f.cur
	st, err := o.f.Stat()
	if err != nil {
		return false
	}
	if st.Size() < o.cr.n {
		f.logf("%s was truncated (size %d, %d bytes read); reading it again from the start", o.path, st.Size(), o.cr.n)
		if err := f.restart(o); err != nil {
			f.logf("%v", err)
			o.failed = true
			return false
		}
		return true
	}
	pst, err := os.Stat(o.path)
	if err != nil {
		return false // deleted: the open file is still readable
	}
	if dev, ino := fileID(pst); dev != o.dev || ino != o.ino {
		f.logf("%s was replaced by a new file; reading it from the start", o.path)
		n, err := f.open(o.path, false)
		if err != nil {
			return false
		}
		o.f.Close()
		f.stats.Files--
		f.stats.Restarts++
		f.cur = n
		return true
	}
	return false
}
