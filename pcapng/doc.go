// Package pcapng reads and writes capture files at the block level.
//
// The Reader takes pcapng (both byte orders, several sections, several
// interfaces with their own link types, if_tsresol and if_tsoffset), classic
// pcap (microsecond and nanosecond magics, both byte orders) and a gzip stream
// of either, recognised by its magic bytes 1f 8b and never by file name. It
// returns one *Record per packet (EPB, SPB and the obsolete PB), per Custom
// Block (0x00000BAD and 0x40000BAD) and per Interface Statistics Block. Other
// blocks (SHB, IDB, NRB) configure the reader; unknown block types are skipped
// and counted in Counts. The Reader keeps one buffer and one Record and reuses
// them: reading a packet does not allocate.
//
// # Frame numbers
//
// Record.Frame is the number Wireshark and tshark show as frame.number. tshark
// 4.0 lists every Custom Block as a frame of its own, so in pcapng the frame
// counter advances for EPB, SPB, PB and Custom Blocks (both types), and also
// for systemd Journal Export blocks (type 9), which tshark shows as frames too
// but this reader skips. Nothing else takes a frame number: Interface
// Statistics, Name Resolution, Decryption Secrets, Interface Description,
// Section Header and unknown blocks do not. (Found by writing each block type
// and running tshark 4.0 with -T fields -e frame.number; a test keeps
// checking it.) In classic pcap every record is a frame. tcpdump and capinfos
// count packets only, so in a file with custom blocks their numbering differs
// from ours and Wireshark's. A stats record carries the number of the last
// frame before it.
//
// # Reading a file that is still being written
//
// When the input ends inside a block (or before the file header is complete,
// including at 0 bytes), Next returns a *NeedMoreError, which matches
// ErrNeedMore with errors.Is, carrying the offset of the partial block. The
// bytes of that partial block stay in the reader's buffer; calling Next again
// after more bytes were appended reads only the new bytes and continues. At a
// real end of input the same error means the file is truncated, and its text
// says so. When the input ends exactly at a block boundary Next returns
// io.EOF; a follower may call Next again after that too, once the file has
// grown. Resuming works for uncompressed input only: a gzip stream that ends
// early cannot be continued, and Next keeps returning the same error.
//
// # Errors
//
// Malformed input gives a *FormatError naming the file and the byte offset of
// the block (or classic pcap record, or file header) at fault; offsets count
// bytes of the decompressed stream when the input is gzip. A FormatError is
// final: once returned, Next returns it again. Block and record lengths are
// checked against MaxBlockLen before anything is read, and the buffer grows
// only as bytes actually arrive, so a length field cannot drive an
// allocation.
//
// Skipped and counted instead of failing, because the block's framing is
// intact: unknown block types (including Decryption Secrets), unknown options,
// and Name Resolution records of unknown types. Everything else is an error,
// as it is in Wireshark: a block length below 12, not a multiple of 4 or over
// MaxBlockLen; a trailing length that disagrees with the leading one; a bad
// byte-order magic or pcapng major version; an option or name record running
// past its block; a fixed-size option of the wrong size; a captured length
// larger than the block; a packet or statistics block for an interface the
// section never described; if_tsresol finer than 10^-19 s.
//
// # Writing
//
// The Writer produces little-endian pcapng with nanosecond timestamps
// (if_tsresol 9). It keeps its own buffer and hands the underlying writer
// whole blocks only, so a reader following the file never sees a torn block;
// Size tells how long the file will be once flushed, for rotation by size.
package pcapng
