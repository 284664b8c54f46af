package parquetout

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tcpviz/tcpviz/events"
)

// maxLine bounds one JSON line, so a corrupt file cannot drive memory.
const maxLine = 16 << 20

// ExportJSONL writes the records of a session's events.jsonl and
// flows.jsonl (either may be empty) to w. Lines that are not valid records
// stop the export with an error naming the file and line.
func ExportJSONL(w *Writer, eventsPath, flowsPath string) error {
	if eventsPath != "" {
		if err := eachLine(eventsPath, func(line []byte) error {
			if bytes.Contains(line, []byte(`"type":"packet"`)) {
				var r events.PacketRecord
				if err := json.Unmarshal(line, &r); err != nil {
					return err
				}
				if r.Type == events.TypePacket {
					w.PacketRecord(&r)
					return nil
				}
			}
			var e events.Event
			if err := json.Unmarshal(line, &e); err != nil {
				return err
			}
			if e.Kernel != nil {
				e.Kernel.TS = int64(e.TS)
			}
			w.Event(&e)
			return nil
		}); err != nil {
			return err
		}
	}
	if flowsPath != "" {
		if err := eachLine(flowsPath, func(line []byte) error {
			var r events.FlowRecord
			if err := json.Unmarshal(line, &r); err != nil {
				return err
			}
			w.Flow(&r)
			return nil
		}); err != nil {
			return err
		}
	}
	return w.Err()
}

func eachLine(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for n := 1; ; n++ {
		line, err := readLine(br)
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(line); ferr != nil {
				return fmt.Errorf("%s: line %d (offset %d): %w", path, n, off, ferr)
			}
		}
		off += int64(len(line)) + 1
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: offset %d: %w", path, off, err)
		}
	}
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		part, isPrefix, err := br.ReadLine()
		buf = append(buf, part...)
		if len(buf) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if err != nil || !isPrefix {
			return buf, err
		}
	}
}
