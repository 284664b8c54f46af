// Package parquetout writes tcpviz's records as Parquet tables that
// DuckDB, Spark, Trino and ClickHouse read directly: events, flows, kernel
// records and (optionally) packets, in a Hive-partitioned tree
//
//	DIR/table=events/date=2026-12-01/host=web-1/part-STEM-00001.parquet
//
// zstd-compressed, with large row groups for scanning. A file appears under
// its final name only once it is complete; until then it is a hidden
// temporary file beside it that engines ignore. The schema is in
// docs/parquet.md.
package parquetout

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/session"
)

// DefaultRowGroupRows is the row group size: large enough that engines scan
// long runs of a column, small enough that a writer buffers tens of MB.
const DefaultRowGroupRows = 1 << 20

// Config says where and how to write.
type Config struct {
	// Dir is the root of the partitioned tree; created if missing.
	Dir string
	// Host is the host=H partition value (the machine that captured).
	Host string
	// Stem names this writer's part files (part-STEM-NNNNN.parquet). Two
	// writers that must not overwrite each other's files need different
	// stems; writing the same input again with the same stem replaces its
	// files instead of adding rows twice.
	Stem string
	// Packets adds the packets table (one row per TCP packet).
	Packets bool
	// Roll, when positive, closes the open files whenever capture time
	// crosses a multiple of it (the monitor rolls hourly), so finished
	// periods become visible while the writer runs.
	Roll time.Duration
	// RowGroupRows overrides DefaultRowGroupRows.
	RowGroupRows int64
}

// Writer is a pipeline sink. It is not safe for concurrent use.
type Writer struct {
	cfg  Config
	host string
	file string // capture_file of the rows being written

	events  table[EventRow]
	flows   table[FlowRow]
	kernel  table[KernelRow]
	packets table[PacketRow]

	clock   int64 // newest capture time seen
	period  int64 // clock / Roll of the open files
	started bool
	// bases holds each direction's sequence base, learnt from its packets
	// (seq - rel_seq), to write the peer's SACK blocks relative as JSON does.
	bases map[uint64]*[2]seqBase
	err   error
	done  []string

	lastDay  int64
	lastDate string
	lastSrc  string
	lastDst  string
	lastDir  events.Dir
	lastEP   endpoints
}

// New prepares a writer; no file is created before the first row.
func New(cfg Config) (*Writer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("parquet: no output directory")
	}
	if cfg.RowGroupRows <= 0 {
		cfg.RowGroupRows = DefaultRowGroupRows
	}
	if cfg.Stem == "" {
		cfg.Stem = fmt.Sprintf("%d-%d", time.Now().UnixNano(), os.Getpid())
	}
	if cfg.Host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "unknown"
		}
		cfg.Host = h
	}
	w := &Writer{cfg: cfg, host: PartitionValue(cfg.Host), lastDay: -1 << 62, bases: make(map[uint64]*[2]seqBase)}
	w.cfg.Stem = PartitionValue(cfg.Stem)
	w.events.name, w.flows.name, w.kernel.name, w.packets.name = TableEvents, TableFlows, TableKernel, TablePackets
	for _, t := range []*tableBase{&w.events.tableBase, &w.flows.tableBase, &w.kernel.tableBase, &w.packets.tableBase} {
		t.w = w
	}
	return w, nil
}

// PartitionValue makes s safe as a Hive partition value and a file name:
// characters other than letters, digits, '.', '-' and '_' become '_'.
func PartitionValue(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			b[i] = '_'
		}
	}
	if b[0] == '.' {
		b[0] = '_' // a leading dot hides the file from engines
	}
	return string(b)
}

// StemFor derives a part-file stem from an input path: its base name plus
// a hash of the absolute path, so re-exporting the same capture replaces its
// files and two captures of the same name on different paths do not collide.
func StemFor(input string) string {
	abs := input
	if a, err := filepath.Abs(input); err == nil && input != "-" {
		abs = a
	}
	h := fnv.New32a()
	h.Write([]byte(abs))
	base := strings.TrimSuffix(filepath.Base(input), ".gz")
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".pcapng"), ".pcap")
	if input == "-" {
		base = "stdin"
	}
	return fmt.Sprintf("%s-%08x", PartitionValue(base), h.Sum32())
}

// SetCaptureFile sets capture_file for the rows that follow.
func (w *Writer) SetCaptureFile(name string) { w.file = name }

// Packet is the pipeline sink for packets.
func (w *Writer) Packet(p *events.Packet) {
	w.tick(p.TS)
	if !w.cfg.Packets || w.err != nil {
		return
	}
	b := w.bases[p.Flow]
	if b == nil {
		b = new([2]seqBase)
		w.bases[p.Flow] = b
	}
	b[p.Dir] = seqBase{p.Seq - p.RelSeq, true}
	var peer uint32
	if pb := b[p.Dir.Reverse()]; pb.set {
		peer = pb.base
	}
	rec := p.Record(peer)
	w.packets.add(w.date(p.TS), packetRow(w.file, &rec))
}

// PacketRecord writes a packet already in its JSON form (export of a
// session written with --packets).
func (w *Writer) PacketRecord(r *events.PacketRecord) {
	w.tick(int64(r.TS))
	if !w.cfg.Packets || w.err != nil {
		return
	}
	w.packets.add(w.date(int64(r.TS)), packetRow(w.file, r))
}

// Event is the pipeline sink for detector events and kernel records.
func (w *Writer) Event(e *events.Event) {
	ts := int64(e.TS)
	w.tick(ts)
	if w.err != nil {
		return
	}
	if e.Kernel != nil {
		w.kernel.add(w.date(ts), kernelRow(w.file, e))
		return
	}
	if e.Src != w.lastSrc || e.Dst != w.lastDst || e.Dir != w.lastDir {
		w.lastSrc, w.lastDst, w.lastDir = e.Src, e.Dst, e.Dir
		w.lastEP = splitEndpoints(e.Src, e.Dst, e.Dir)
	}
	w.events.add(w.date(ts), eventRow(w.file, e, w.lastEP))
}

// Flow receives a connection summary (the pipeline's OnFlow).
func (w *Writer) Flow(r *events.FlowRecord) {
	delete(w.bases, r.Flow)
	if w.err != nil {
		return
	}
	w.flows.add(w.date(int64(r.First)), flowRow(w.file, r))
}

// Advance moves capture time forward without a record (the monitor's idle
// clock), so a finished hour is closed even when the capture goes quiet.
func (w *Writer) Advance(now int64) { w.tick(now) }

func (w *Writer) tick(ts int64) {
	if ts <= w.clock {
		return
	}
	w.clock = ts
	if w.cfg.Roll <= 0 {
		return
	}
	p := ts / int64(w.cfg.Roll)
	if !w.started {
		w.started, w.period = true, p
		return
	}
	if p != w.period {
		w.period = p
		if err := w.Roll(); err != nil && w.err == nil {
			w.err = err
		}
	}
}

// date returns the date=YYYY-MM-DD partition (UTC) of a timestamp.
func (w *Writer) date(ts int64) string {
	const day = int64(24 * time.Hour)
	d := ts / day
	if ts < 0 && ts%day != 0 {
		d--
	}
	if d != w.lastDay {
		w.lastDay = d
		w.lastDate = time.Unix(0, d*day).UTC().Format("2006-01-02")
	}
	return w.lastDate
}

// Roll completes every open file (renamed to its final name); later rows go
// to new files.
func (w *Writer) Roll() error {
	var errs []error
	errs = append(errs, w.events.closeAll(), w.flows.closeAll(), w.kernel.closeAll(), w.packets.closeAll())
	return errors.Join(errs...)
}

// Close completes every file. It returns the first error met while
// writing; on error the incomplete files are removed.
func (w *Writer) Close() error {
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if err := w.Roll(); err != nil {
		w.Abort()
		return err
	}
	return nil
}

// Abort removes the files not yet completed.
func (w *Writer) Abort() {
	w.events.abortAll()
	w.flows.abortAll()
	w.kernel.abortAll()
	w.packets.abortAll()
}

// Err is the first write error so far.
func (w *Writer) Err() error { return w.err }

// Files lists the files completed so far, in the order they were closed.
func (w *Writer) Files() []string { return slices.Sorted(slices.Values(w.done)) }

type seqBase struct {
	base uint32
	set  bool
}

// tableBase is what the tables share, whatever their row type.
type tableBase struct {
	w    *Writer
	name string
}

// table holds the open part file of each date of one table.
type table[T any] struct {
	tableBase
	open map[string]*part[T]
	seq  map[string]int
}

type part[T any] struct {
	f   *session.File
	pw  *parquet.GenericWriter[T]
	buf []T
}

const batchRows = 1024

func (t *table[T]) add(date string, row T) {
	p := t.open[date]
	if p == nil {
		var err error
		if p, err = t.create(date); err != nil {
			t.w.fail(err)
			return
		}
	}
	p.buf = append(p.buf, row)
	if len(p.buf) == batchRows {
		t.write(p)
	}
}

func (t *table[T]) write(p *part[T]) {
	if _, err := p.pw.Write(p.buf); err != nil {
		t.w.fail(fmt.Errorf("write %s: %w", p.f.Path(), err))
	}
	clear(p.buf)
	p.buf = p.buf[:0]
}

func (t *table[T]) create(date string) (*part[T], error) {
	w := t.w
	dir := filepath.Join(w.cfg.Dir, "table="+t.name, "date="+date, "host="+w.host)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	// Numbered per table and date, so the same input written again (by
	// parse-pcap --parquet or by export) gets the same names and replaces
	// its files.
	if t.seq == nil {
		t.seq = make(map[string]int)
	}
	t.seq[date]++
	path := filepath.Join(dir, fmt.Sprintf("part-%s-%05d.parquet", w.cfg.Stem, t.seq[date]))
	f, err := session.Create(path)
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	pw := parquet.NewGenericWriter[T](f,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.MaxRowsPerRowGroup(w.cfg.RowGroupRows),
		parquet.CreatedBy("tcpviz", strconv.Itoa(SchemaVersion), ""),
		parquet.KeyValueMetadata("tcpviz.schema", strconv.Itoa(SchemaVersion)),
		parquet.KeyValueMetadata("tcpviz.table", t.name),
		parquet.KeyValueMetadata("tcpviz.host", w.cfg.Host),
	)
	p := &part[T]{f: f, pw: pw, buf: make([]T, 0, batchRows)}
	if t.open == nil {
		t.open = make(map[string]*part[T])
	}
	t.open[date] = p
	return p, nil
}

func (t *table[T]) closeAll() error {
	var errs []error
	for date, p := range t.open {
		delete(t.open, date)
		if len(p.buf) > 0 {
			if _, err := p.pw.Write(p.buf); err != nil {
				errs = append(errs, fmt.Errorf("write %s: %w", p.f.Path(), err))
				p.f.Abort()
				continue
			}
		}
		if err := p.pw.Close(); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", p.f.Path(), err))
			p.f.Abort()
			continue
		}
		if err := p.f.Commit(); err != nil {
			errs = append(errs, err)
			continue
		}
		t.w.done = append(t.w.done, p.f.Path())
	}
	return errors.Join(errs...)
}

func (t *table[T]) abortAll() {
	for date, p := range t.open {
		delete(t.open, date)
		p.f.Abort()
	}
}

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}
