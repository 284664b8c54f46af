package session

// writebackChunk is how many bytes written make the kernel start writing
// them to the disk, for a durable file: small enough that Commit's fsync
// finds little left, large enough that the calls cost nothing (one per
// 2 MiB).
const writebackChunk = 2 << 20

// Write writes b to the temporary file. For a durable file (SetDurable),
// every writebackChunk bytes it asks the kernel to start writing them to
// the disk without waiting (Linux), so the disk works while the run goes
// on: Commit's fsync then waits for the last chunk only. On a 77 MB
// events.jsonl that fsync took 0.12-0.21 s of the run's wall time.
func (f *File) Write(b []byte) (int, error) {
	n, err := f.File.Write(b)
	f.written += int64(n)
	if f.durable && f.written-f.started >= writebackChunk {
		startWriteback(f.File, f.started, f.written-f.started)
		f.started = f.written
	}
	return n, err
}
