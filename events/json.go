package events

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// The AppendJSON methods write the records of docs/events.md without
// reflection. Their output is byte for byte what encoding/json writes for the
// same struct (json_test.go checks it on every sample and on random records);
// they exist because events are written once per packet or event, where
// encoding/json's reflection dominated the cost of a run.

// AppendJSON appends the JSON form of t: RFC 3339 in UTC with exactly nine
// fraction digits, so that text order is time order.
func (t Timestamp) AppendJSON(b []byte) []byte {
	b = append(b, '"')
	b = t.appendText(b)
	return append(b, '"')
}

const nsPerDay = 86400 * int64(time.Second)

func (t Timestamp) appendText(b []byte) []byte {
	ns := int64(t)
	day, rem := ns/nsPerDay, ns%nsPerDay
	if rem < 0 {
		day--
		rem += nsPerDay
	}
	y, m, d := civil(day)
	var x [30]byte // "2006-01-02T15:04:05.000000000Z"
	put4(x[0:], y)
	x[4] = '-'
	put2(x[5:], m)
	x[7] = '-'
	put2(x[8:], d)
	x[10] = 'T'
	sec, frac := rem/int64(time.Second), rem%int64(time.Second)
	put2(x[11:], int(sec/3600))
	x[13] = ':'
	put2(x[14:], int(sec/60%60))
	x[16] = ':'
	put2(x[17:], int(sec%60))
	x[19] = '.'
	for i := 28; i >= 20; i-- {
		x[i] = byte('0' + frac%10)
		frac /= 10
	}
	x[29] = 'Z'
	return append(b, x[:]...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's days_from_civil inverse). Int64 nanoseconds span the years
// 1677–2262, always four digits.
func civil(z int64) (year, month, day int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

func put2(b []byte, v int) { b[0], b[1] = byte('0'+v/10), byte('0'+v%10) }

func put4(b []byte, v int) {
	b[0], b[1], b[2], b[3] = byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10)
}

// jsonFloat appends f the way encoding/json does (ES6 number formatting).
// encoding/json refuses NaN and infinities; they are written as 0 here, which
// no record of the schema produces.
func jsonFloat(b []byte, f float64) []byte {
	if f > 0 && f < 1e8 {
		// appendMicros' test for the figures most records hold, in line:
		// positive, and a whole number of millionths (n/1e6 < 1e8 then).
		if n, ok := wholeMillionths(f); ok {
			return appendMillionths(b, n)
		}
		// Not whole millionths, so appendMicros has nothing to write:
		// the shortest form from integer products when it can.
		if b, ok := appendShortest(b, f); ok {
			return b
		}
	} else if math.Float64bits(f) == 0 {
		return append(b, '0') // +0, the most common figure of all
	} else if b, ok := appendMicros(b, f); ok {
		return b
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as encoding/json does.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// wholeMillionths returns the nearest whole number of millionths to f
// (0 <= f < 1e8) and whether f is exactly that many.
func wholeMillionths(f float64) (int64, bool) {
	n := int64(f*1e6 + 0.5)
	return n, float64(n)/1e6 == f
}

// appendMicros writes f when it is a whole number below 1e15 or a whole
// number of millionths below 1e9, as most figures of the records are
// (seconds to the microsecond, shares to four decimals, rounded rates).
// Such a number has at most 15 significant digits, and a decimal of at most
// 15 digits is the only one that short to round to its float64, so its
// digits are the shortest representation encoding/json writes; integer
// arithmetic writes them several times faster than the shortest-float
// search. ok is false for any other f.
func appendMicros(b []byte, f float64) ([]byte, bool) {
	if !(f > -1e15 && f < 1e15) {
		return b, false // NaN too
	}
	if n := int64(f); float64(n) == f {
		if n == 0 && math.Signbit(f) {
			return b, false // -0
		}
		return appendInt(b, n), true
	}
	if !(f > -1e9 && f < 1e9) {
		return b, false
	}
	// The nearest whole number of millionths, then whether f is it.
	x := f * 1e6
	var n int64
	if x < 0 {
		n = int64(x - 0.5)
	} else {
		n = int64(x + 0.5)
	}
	if float64(n)/1e6 != f {
		return b, false
	}
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	return appendMillionths(b, n), true
}

// appendMillionths writes n millionths (0 <= n < 1e15) as a decimal without
// trailing zeros.
func appendMillionths(b []byte, n int64) []byte {
	if n < 1e6 {
		b = append(b, '0') // most figures: shares, seconds of short connections
	} else {
		b = appendInt(b, n/1e6)
	}
	if frac := uint32(n % 1e6); frac != 0 {
		b = appendFraction(b, frac)
	}
	return b
}

// appendInt writes n as strconv.AppendInt does, numbers from 0 to 99999999
// (sizes, windows, rates, frames and sequence numbers of most connections)
// in one word (digits8).
func appendInt(b []byte, n int64) []byte {
	if n < 0 {
		return strconv.AppendInt(b, n, 10)
	}
	return appendUint(b, uint64(n))
}

// appendUint is appendInt for unsigned numbers. A number below 10^8 is
// written without a further call: an event has five or six.
func appendUint(b []byte, n uint64) []byte {
	if n >= 1e8 {
		return appendLarge(b, n)
	}
	if n < 10 {
		return append(b, byte('0'+n))
	}
	w, k := smallText(digits8(uint32(n)))
	b = binary.LittleEndian.AppendUint64(b, w)
	return b[:len(b)-8+k]
}

// appendLarge is appendUint for n >= 10^8.
func appendLarge(b []byte, n uint64) []byte {
	if n < 1e16 {
		// Sequence numbers of long transfers (9-10 digits): the high
		// part, then eight digits in one word.
		b = appendUint(b, n/1e8)
		return binary.LittleEndian.AppendUint64(b, digits8(uint32(n%1e8))|0x3030303030303030)
	}
	return strconv.AppendUint(b, n, 10)
}

// smallText returns the number whose digits8 are d (10 <= n < 10^8) as
// text in one word, the first digit in the lowest byte, and its length.
func smallText(d uint64) (uint64, int) {
	z := bits.TrailingZeros64(d) / 8 // the leading zeros
	return (d | 0x3030303030303030) >> (8 * z), 8 - z
}

// digits8 sets the eight decimal digits of n < 10^8 (leading zeros
// included) one per byte, the first in the lowest byte, as values 0-9. The
// word is split in lanes, each lane's quotient and remainder computed at
// once: two 4-digit halves in 32-bit lanes, then 2-digit pairs in 16-bit
// lanes (v*10486>>20 is v/100 for v < 10^4), then digits in bytes (v*103>>10
// is v/10 for v < 100).
func digits8(n uint32) uint64 {
	x := uint64(n/10000) | uint64(n%10000)<<32
	q := (x * 10486 >> 20) & 0x0000007f_0000007f
	x = q | (x-q*100)<<16
	q = (x * 103 >> 10) & 0x000f000f_000f000f
	return q | (x-q*10)<<8
}

// appendFraction writes frac (1 to 999999 millionths) as a decimal point
// and up to six digits without the trailing zeros: the six digits are set
// in one word (digits8, whose first two are 0, shifted by one byte to make
// room for the point), whose zero bytes at the top are the trailing zeros.
func appendFraction(b []byte, frac uint32) []byte {
	w, k := fractionText(digits8(frac))
	b = binary.LittleEndian.AppendUint64(b, w)
	return b[:len(b)-8+k]
}

// fractionText returns appendFraction's text for the fraction whose
// digits8 are d, in one word, and its length.
func fractionText(d uint64) (uint64, int) {
	d >>= 8
	k := 8 - bits.LeadingZeros64(d)/8 // the point and the digits up to the last that is not 0
	return d | 0x0030303030303000 | '.', k
}

const hexDigits = "0123456789abcdef"

// jsonSafe holds the bytes encoding/json writes as they are: printable
// ASCII but for the quote, the backslash and HTML's <, > and &.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// jsonString appends s quoted and escaped exactly as encoding/json does with
// HTML escaping on (its default): <, > and & as \u00XX, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func jsonString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if jsonSafe[s[i]] {
			i++
			continue
		}
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Field helpers: each appends `,"name":value` (the caller writes the first
// field itself).

func fStr(b []byte, name, v string) []byte {
	b = append(b, name...)
	return jsonString(b, v)
}

func fU64(b []byte, name string, v uint64) []byte {
	b = append(b, name...)
	return appendUint(b, v)
}

func fI64(b []byte, name string, v int64) []byte {
	b = append(b, name...)
	return appendInt(b, v)
}

func fF64(b []byte, name string, v float64) []byte {
	b = append(b, name...)
	return jsonFloat(b, v)
}

func fBool(b []byte, name string, v bool) []byte {
	b = append(b, name...)
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func fTS(b []byte, name string, v Timestamp) []byte {
	b = append(b, name...)
	return v.AppendJSON(b)
}

// AppendJSON appends e as one JSON object (no newline), the bytes
// encoding/json writes for an Event.
func (e *Event) AppendJSON(b []byte) []byte { return e.appendJSON(b, nil) }

// eventCache keeps the text of what the events of one writer mostly
// share, as the bytes written: the head up to the frame number (by type),
// the date and time to the second of their timestamp, each recent
// connection and direction with its endpoints (events of a few
// connections interleave: the event before had the same ones for six
// events in ten, a connection's own entry has them for nearly all), the
// severity with the kind and reason (a few dozen constants of the
// detectors), and the connection's smoothed RTT (which changes with RTT
// samples, not with every event). Each is kept in an array of fixed size
// that is copied whole, in line (put), where appending a text of any
// length called memmove; strings are recognised by their address and
// length (Go strings do not change, and the kept string keeps its bytes
// from being reused), without reading them.
type eventCache struct {
	sec   int64 // the second ts shows, when secOK
	secOK bool
	ts    text64 // `,"ts":"2006-01-02T15:04:05.` (27 bytes): put leaves room for the rest
	srtt  uint64 // bits of the figure srttTx shows, when srttTx.n > 0
	// srttTx is `,"srtt_ms":` and the figure.
	srttTx text64
	heads  [1 << headBits][2]headText
	sevs   [1 << sevBits][2]sevText
	ends   [endsSlots]endsText
	// Kernel records: each socket's 4-tuple, the last pid and command.
	socks [kernSlots]kernSocket
	proc  kernProc
}

// text64 and text128 hold a text of up to their size, put whole.
type (
	text64 struct {
		b [64]byte
		n int
	}
	text128 struct {
		b [128]byte
		n int
	}
)

// put appends t: its whole array is copied, in line, and b cut after its
// text.
func (t *text64) put(b []byte) []byte {
	if cap(b)-len(b) < len(t.b) {
		b = slices.Grow(b, len(t.b))
	}
	n := len(b)
	*(*[64]byte)(b[n : n+64]) = t.b
	return b[:n+t.n]
}

func (t *text128) put(b []byte) []byte {
	if cap(b)-len(b) < len(t.b) {
		b = slices.Grow(b, len(t.b))
	}
	n := len(b)
	*(*[128]byte)(b[n : n+128]) = t.b
	return b[:n+t.n]
}

// keep stores x in t when it fits (n is 0 otherwise: t holds nothing).
func (t *text64) keep(x []byte) { t.n = keepText(t.b[:], x) }

func (t *text128) keep(x []byte) { t.n = keepText(t.b[:], x) }

// keepText copies x into dst when it fits and returns its length, else 0.
func keepText(dst, x []byte) int {
	if len(x) > len(dst) {
		return 0
	}
	return copy(dst, x)
}

// sameText reports whether a and b hold the same text, without reading
// them when they are the same string.
func sameText(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// The kept heads and severities are in sets of two (the newest first), so
// that two texts in use whose hashes meet do not take turns in one place.

// headBits gives the sets of event types whose head is kept: 1<<headBits.
const headBits = 4

// headText is `{"type":"<typ>","frame":`.
type headText struct {
	typ string
	tx  text64
}

// appendHead appends the type and the frame's key of an event.
func (c *eventCache) appendHead(b []byte, typ string) []byte {
	set := &c.heads[TextSet(TextKey(typ), headBits)]
	if k := &set[0]; k.tx.n > 0 && SameString(typ, k.typ) {
		return k.tx.put(b)
	}
	if k := &set[1]; k.tx.n > 0 && SameString(typ, k.typ) {
		return k.tx.put(b)
	}
	n := len(b)
	b = jsonString(append(b, `{"type":`...), typ)
	b = append(b, `,"frame":`...)
	set[1] = set[0]
	set[0].typ = typ
	set[0].tx.keep(b[n:])
	return b
}

// sevBits gives the sets of severities with kind and reason whose text is
// kept: 1<<sevBits.
const sevBits = 4

// sevText is the text of the severity, kind and reason fields.
type sevText struct {
	sev          Severity
	kind, reason string
	tx           text128
}

func (k *sevText) is(e *Event) bool {
	return k.tx.n > 0 && SameString(string(e.Severity), string(k.sev)) && SameString(e.Kind, k.kind) && SameString(e.Reason, k.reason)
}

// appendSeverity appends the severity, kind and reason fields of e.
func (c *eventCache) appendSeverity(b []byte, e *Event) []byte {
	set := &c.sevs[TextSet((TextKey(string(e.Severity))*fib^TextKey(e.Kind))*fib^TextKey(e.Reason), sevBits)]
	if set[0].is(e) {
		return set[0].tx.put(b)
	}
	if set[1].is(e) {
		return set[1].tx.put(b)
	}
	n := len(b)
	b = appendSeverity(b, e)
	set[1] = set[0]
	set[0].sev, set[0].kind, set[0].reason = e.Severity, e.Kind, e.Reason
	set[0].tx.keep(b[n:])
	return b
}

func appendSeverity(b []byte, e *Event) []byte {
	b = fStr(b, `,"severity":`, string(e.Severity))
	if e.Kind != "" {
		b = fStr(b, `,"kind":`, e.Kind)
	}
	if e.Reason != "" {
		b = fStr(b, `,"reason":`, e.Reason)
	}
	return b
}

// endsSlots is the connection directions whose text is kept, by flow
// number and direction: consecutive connections do not share a slot.
const endsSlots = 16

// endsText is the text of the flow, dir, src and dst fields, when tx.n > 0.
type endsText struct {
	flow     uint64
	dir      Dir
	src, dst string
	tx       text128
}

// appendTS appends the ts field (Timestamp.AppendJSON with its key), the
// part up to the second taken from c when t falls in the same second as
// before.
func (c *eventCache) appendTS(b []byte, t Timestamp) []byte {
	sec, frac := int64(t)/int64(time.Second), int64(t)%int64(time.Second)
	if frac < 0 {
		sec--
		frac += int64(time.Second)
	}
	if !c.secOK || sec != c.sec {
		var x [64]byte
		c.ts.keep(t.appendText(append(x[:0], `,"ts":"`...))[:27])
		c.sec, c.secOK = sec, true
	}
	b = c.ts.put(b) // room for the fraction too (put's growth check)
	// The nine digits of the fraction, the first, then eight in one word,
	// and `Z"`, in place.
	n := len(b)
	w := b[n : n+11 : n+11]
	w[0] = byte('0' + frac/1e8)
	binary.LittleEndian.PutUint64(w[1:9], digits8(uint32(frac%1e8))|0x3030303030303030)
	w[9], w[10] = 'Z', '"'
	return b[:n+11]
}

// appendSRTT appends the srtt_ms field, from c when f is the figure
// written last.
func (c *eventCache) appendSRTT(b []byte, f float64) []byte {
	if bits := math.Float64bits(f); c.srttTx.n > 0 && bits == c.srtt {
		return c.srttTx.put(b)
	}
	n := len(b)
	b = fF64(b, `,"srtt_ms":`, f)
	c.srtt = math.Float64bits(f)
	c.srttTx.keep(b[n:])
	return b
}

// appendEnds appends the flow, dir, src and dst fields of e, from c when
// they are those of the event its slot kept.
func (c *eventCache) appendEnds(b []byte, e *Event) []byte {
	k := &c.ends[(e.Flow<<1|uint64(e.Dir&1))%endsSlots]
	if k.tx.n > 0 && e.Flow == k.flow && e.Dir == k.dir && sameText(e.Src, k.src) && sameText(e.Dst, k.dst) {
		return k.tx.put(b)
	}
	n := len(b)
	b = appendEnds(b, e)
	k.flow, k.dir, k.src, k.dst = e.Flow, e.Dir, e.Src, e.Dst
	k.tx.keep(b[n:])
	return b
}

func appendEnds(b []byte, e *Event) []byte {
	b = fU64(b, `,"flow":`, e.Flow)
	b = append(b, `,"dir":"`...)
	b = append(b, e.Dir.String()...)
	b = append(b, '"')
	b = fStr(b, `,"src":`, e.Src)
	return fStr(b, `,"dst":`, e.Dst)
}

// appendJSON is AppendJSON, with the writer's cache when c is not nil.
func (e *Event) appendJSON(b []byte, c *eventCache) []byte {
	if c != nil {
		b = c.appendHead(b, e.Type)
		b = appendUint(b, e.Frame)
		b = c.appendTS(b, e.TS)
		b = c.appendEnds(b, e)
		b = c.appendSeverity(b, e)
	} else {
		b = append(b, `{"type":`...)
		b = jsonString(b, e.Type)
		b = fU64(b, `,"frame":`, e.Frame)
		b = fTS(b, `,"ts":`, e.TS)
		b = appendEnds(b, e)
		b = appendSeverity(b, e)
	}
	if e.Seq != 0 {
		b = fU64(b, `,"seq":`, uint64(e.Seq))
	}
	if e.Len != 0 {
		b = fU64(b, `,"len":`, uint64(e.Len))
	}
	if e.Ack != 0 {
		b = fU64(b, `,"ack":`, uint64(e.Ack))
	}
	if e.Count != 0 {
		b = fI64(b, `,"count":`, int64(e.Count))
	}
	if e.RefFrame != 0 {
		b = fU64(b, `,"ref_frame":`, e.RefFrame)
	}
	if e.RTTms != 0 {
		b = fF64(b, `,"rtt_ms":`, e.RTTms)
	}
	if e.Window != 0 {
		b = fI64(b, `,"window":`, e.Window)
	}
	if e.Note != "" {
		b = fStr(b, `,"note":`, e.Note)
	}
	if e.Confirmed != nil {
		b = append(b, `,"confirmed":`...)
		b = strconv.AppendBool(b, *e.Confirmed)
	}
	if e.DegreeSegs != 0 {
		b = fI64(b, `,"degree_segs":`, int64(e.DegreeSegs))
	}
	if e.DegreeMS != 0 {
		b = fF64(b, `,"degree_ms":`, e.DegreeMS)
	}
	if e.Cause != "" {
		b = fStr(b, `,"cause":`, e.Cause)
	}
	ctx := &e.Context
	b = fI64(b, `,"context":{"bytes_in_flight":`, ctx.BytesInFlight)
	if ctx.SRTTms != 0 {
		if c != nil {
			b = c.appendSRTT(b, ctx.SRTTms)
		} else {
			b = fF64(b, `,"srtt_ms":`, ctx.SRTTms)
		}
	}
	if ctx.KernelCwnd != 0 {
		b = fU64(b, `,"kernel_cwnd":`, uint64(ctx.KernelCwnd))
	}
	if ctx.KernelSRTTus != 0 {
		b = fU64(b, `,"kernel_srtt_us":`, uint64(ctx.KernelSRTTus))
	}
	if ctx.KernelSsthr != 0 {
		b = fU64(b, `,"kernel_ssthresh":`, uint64(ctx.KernelSsthr))
	}
	b = append(b, '}')
	if e.Kernel != nil {
		b = appendKernel(b, e.Kernel, c)
	}
	if e.Limit != nil {
		b = appendMarshal(b, `,"limit":`, e.Limit) // rare: one per change of a connection's limit
	}
	return append(b, '}')
}

// appendMarshal writes v with encoding/json, for rare parts of a record.
func appendMarshal(b []byte, name string, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		j = []byte("null") // the values marshalled here are plain numbers and strings
	}
	b = append(b, name...)
	return append(b, j...)
}

// AppendJSON appends the packet record of p (what Record(peerISN) marshals
// to) without building it.
func (p *Packet) AppendJSON(b []byte, peerISN uint32) []byte {
	b = append(b, `{"type":"packet"`...)
	b = fU64(b, `,"frame":`, p.Frame)
	b = fTS(b, `,"ts":`, Timestamp(p.TS))
	b = fU64(b, `,"flow":`, p.Flow)
	b = append(b, `,"dir":"`...)
	b = append(b, p.Dir.String()...)
	b = append(b, `","src":`...)
	b = appendEndpoint(b, p.Src, p.SrcPort)
	b = append(b, `,"dst":`...)
	b = appendEndpoint(b, p.Dst, p.DstPort)
	b = fU64(b, `,"seq":`, uint64(p.Seq))
	b = fU64(b, `,"ack":`, uint64(p.Ack))
	b = fU64(b, `,"rel_seq":`, uint64(p.RelSeq))
	b = fU64(b, `,"rel_ack":`, uint64(p.RelAck))
	b = fU64(b, `,"len":`, uint64(p.Len))
	b = append(b, `,"flags":"`...)
	b = appendFlags(b, p.Flags)
	b = fU64(b, `","window":`, uint64(p.Window))
	if p.WindowScaled >= 0 {
		b = fI64(b, `,"window_scaled":`, p.WindowScaled)
	} else {
		b = append(b, `,"window_scaled":null`...)
	}
	o := &p.Options
	if o.MSS != 0 {
		b = fU64(b, `,"mss":`, uint64(o.MSS))
	}
	if o.HasWScale {
		b = fU64(b, `,"wscale":`, uint64(o.WScale))
	}
	if o.SACKPerm {
		b = append(b, `,"sack_perm":true`...)
	}
	if n := min(int(o.NumSACK), len(o.SACK)); n > 0 {
		b = append(b, `,"sack":[`...)
		for i, s := range o.SACK[:n] {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendUint(b, uint64(s.Left-peerISN), 10)
			b = append(b, ',')
			b = strconv.AppendUint(b, uint64(s.Right-peerISN), 10)
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if o.HasTS {
		b = fU64(b, `,"tsval":`, uint64(o.TSVal))
		b = fU64(b, `,"tsecr":`, uint64(o.TSEcr))
	}
	return append(b, '}')
}

// appendEndpoint writes Endpoint(a, port) as a JSON string.
func appendEndpoint(b []byte, a netip.Addr, port uint16) []byte {
	if !a.IsValid() || a.Zone() != "" {
		return jsonString(b, Endpoint(a, port)) // a zone is free text
	}
	b = append(b, '"')
	b = netip.AddrPortFrom(a, port).AppendTo(b)
	return append(b, '"')
}

// appendFlags writes FlagString(f) without allocating.
func appendFlags(b []byte, f uint16) []byte {
	n := len(b)
	for _, x := range flagLetters {
		if f&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	return b
}

var flagLetters = [...]struct {
	bit uint16
	c   byte
}{{FlagSYN, 'S'}, {FlagFIN, 'F'}, {FlagRST, 'R'}, {FlagPSH, 'P'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'}, {FlagACK, '.'}}

// AppendJSON appends r as one JSON object, the bytes encoding/json writes for
// a FlowRecord (events sorted by type, as encoding/json sorts map keys).
func (r *FlowRecord) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = jsonString(b, r.Type)
	b = fU64(b, `,"flow":`, r.Flow)
	b = fStr(b, `,"client":`, r.Client)
	b = fStr(b, `,"server":`, r.Server)
	b = fStr(b, `,"client_addr":`, r.ClientAddr)
	b = fStr(b, `,"server_addr":`, r.ServerAddr)
	b = fU64(b, `,"client_port":`, uint64(r.ClientPort))
	b = fU64(b, `,"server_port":`, uint64(r.ServerPort))
	b = fTS(b, `,"first":`, r.First)
	b = fTS(b, `,"last":`, r.Last)
	b = fF64(b, `,"duration_ms":`, r.DurationMS)
	b = fU64(b, `,"first_frame":`, r.FirstFrame)
	b = fU64(b, `,"last_frame":`, r.LastFrame)
	if r.Resumed != 0 {
		b = fI64(b, `,"resumed":`, int64(r.Resumed))
	}
	if r.Encap != "" {
		b = fStr(b, `,"encap":`, r.Encap)
	}
	if t := r.Tunnel; t != nil {
		b = fStr(b, `,"tunnel":{"kind":`, t.Kind)
		b = fU64(b, `,"id":`, uint64(t.ID))
		if t.PeerID != nil {
			b = fU64(b, `,"peer_id":`, uint64(*t.PeerID))
		}
		b = append(b, '}')
	}
	b = fU64(b, `,"packets_c2s":`, r.PacketsC2S)
	b = fU64(b, `,"packets_s2c":`, r.PacketsS2C)
	b = fU64(b, `,"bytes_c2s":`, r.BytesC2S)
	b = fU64(b, `,"bytes_s2c":`, r.BytesS2C)
	b = fU64(b, `,"wire_bytes_c2s":`, r.WireC2S)
	b = fU64(b, `,"wire_bytes_s2c":`, r.WireS2C)
	b = fBool(b, `,"handshake_seen":`, r.HandshakeSeen)
	if r.HandshakeRTTms != 0 {
		b = fF64(b, `,"handshake_rtt_ms":`, r.HandshakeRTTms)
	}
	b = fI64(b, `,"wscale_c2s":`, int64(r.WScaleC2S))
	b = fI64(b, `,"wscale_s2c":`, int64(r.WScaleS2C))
	if r.MSSC2S != 0 {
		b = fU64(b, `,"mss_c2s":`, uint64(r.MSSC2S))
	}
	if r.MSSS2C != 0 {
		b = fU64(b, `,"mss_s2c":`, uint64(r.MSSS2C))
	}
	if r.SACKPermitted {
		b = append(b, `,"sack_permitted":true`...)
	}
	b = fStr(b, `,"end":`, r.End)
	b = fStr(b, `,"state":`, r.State)
	b = fStr(b, `,"history":`, r.History)
	if r.ZeroWindowMS != 0 {
		b = fF64(b, `,"zero_window_ms":`, r.ZeroWindowMS)
	}
	if r.ZeroWindowShare != 0 {
		b = fF64(b, `,"zero_window_share":`, r.ZeroWindowShare)
	}
	if len(r.Events) > 0 {
		b = append(b, `,"events":`...)
		b = appendCounts(b, r.Events)
	}
	if r.Retransmitted != 0 {
		b = fU64(b, `,"retransmitted_bytes":`, r.Retransmitted)
	}
	if r.RTTMinMS != 0 {
		b = fF64(b, `,"rtt_min_ms":`, r.RTTMinMS)
	}
	if r.RTTAvgMS != 0 {
		b = fF64(b, `,"rtt_avg_ms":`, r.RTTAvgMS)
	}
	if r.RTTMaxMS != 0 {
		b = fF64(b, `,"rtt_max_ms":`, r.RTTMaxMS)
	}
	if r.RTTP50MS != 0 {
		b = fF64(b, `,"rtt_p50_ms":`, r.RTTP50MS)
	}
	if r.RTTP95MS != 0 {
		b = fF64(b, `,"rtt_p95_ms":`, r.RTTP95MS)
	}
	if r.RTTSamples != 0 {
		b = fI64(b, `,"rtt_samples":`, int64(r.RTTSamples))
	}
	if r.KernelSRTTP50MS != 0 {
		b = fF64(b, `,"kernel_srtt_p50_ms":`, r.KernelSRTTP50MS)
	}
	if r.KernelMinRTTMS != 0 {
		b = fF64(b, `,"kernel_min_rtt_ms":`, r.KernelMinRTTMS)
	}
	if r.PID != 0 {
		b = fU64(b, `,"pid":`, uint64(r.PID))
	}
	if r.Comm != "" {
		b = fStr(b, `,"comm":`, r.Comm)
	}
	if k := r.KernelRetrans; k != nil {
		b = appendRetransCheck(append(b, `,"kernel_retrans":`...), k)
	}
	if !r.Limits.IsZero() {
		b = appendFlowLimits(append(b, `,"limits":`...), &r.Limits)
	}
	return append(b, '}')
}

// appendRetransCheck writes k as encoding/json does.
func appendRetransCheck(b []byte, k *RetransCheck) []byte {
	b = fI64(b, `{"kernel":`, int64(k.Kernel))
	b = fI64(b, `,"kernel_seen":`, int64(k.KernelSeen))
	b = fI64(b, `,"inferred":`, int64(k.Inferred))
	b = fI64(b, `,"matched":`, int64(k.Matched))
	b = fF64(b, `,"precision":`, k.Precision)
	b = fF64(b, `,"recall":`, k.Recall)
	b = fI64(b, `,"kernel_loss_episodes":`, int64(k.KernelLossEpisodes))
	b = fI64(b, `,"inferred_loss_episodes":`, int64(k.InferredLossEpisodes))
	b = fI64(b, `,"kinds_compared":`, int64(k.KindsCompared))
	b = fI64(b, `,"kinds_agreed":`, int64(k.KindsAgreed))
	b = appendKinds(append(b, `,"kernel_kinds":`...), k.KernelKinds)
	b = appendKinds(append(b, `,"inferred_kinds":`...), k.InferredKinds)
	b = fI64(b, `,"rtt_records":`, int64(k.RTTRecords))
	b = fF64(b, `,"kernel_srtt_p50_ms":`, k.KernelSRTTP50MS)
	b = fF64(b, `,"inferred_srtt_p50_ms":`, k.InferredSRTTP50MS)
	b = fF64(b, `,"inferred_rtt_p50_ms":`, k.InferredRTTP50MS)
	return append(b, '}')
}

// appendKinds writes retransmitted segments by kind, as encoding/json does.
func appendKinds(b []byte, k RetransKinds) []byte {
	b = fI64(b, `{"fast":`, int64(k.Fast))
	b = fI64(b, `,"rto":`, int64(k.RTO))
	b = fI64(b, `,"tlp":`, int64(k.TLP))
	b = fI64(b, `,"other":`, int64(k.Other))
	return append(b, '}')
}

// appendCounts writes a map of counts with its keys sorted, as encoding/json
// does (null for a nil map).
func appendCounts[N int | uint64](b []byte, m map[string]N) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var arr [32]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonString(b, k)
		b = append(b, ':')
		if v := m[k]; v < 0 {
			b = strconv.AppendInt(b, int64(v), 10)
		} else {
			b = strconv.AppendUint(b, uint64(v), 10)
		}
	}
	return append(b, '}')
}

// appendFlowLimits writes l as encoding/json does.
func appendFlowLimits(b []byte, l *FlowLimits) []byte {
	b = append(b, '{')
	if !l.C2S.IsZero() {
		b = appendDirLimits(append(b, `"c2s":`...), &l.C2S)
	}
	if !l.S2C.IsZero() {
		if !l.C2S.IsZero() {
			b = append(b, ',')
		}
		b = appendDirLimits(append(b, `"s2c":`...), &l.S2C)
	}
	return append(b, '}')
}

func appendLimitSeconds(b []byte, s *LimitSeconds) []byte {
	b = appendKeyFig(b, &secondsKeys[0], s.Rwnd)
	b = appendKeyFig(b, &secondsKeys[1], s.Cwnd)
	b = appendKeyFig(b, &secondsKeys[2], s.Sndbuf)
	b = appendKeyFig(b, &secondsKeys[3], s.App)
	b = appendKeyFig(b, &secondsKeys[4], s.Recovery)
	b = appendKeyFig(b, &secondsKeys[5], s.Handshake)
	return append(b, '}')
}

// wordKey is a member's key (at most 24 bytes) as three little-endian
// words: appendKeyFig writes it in three stores instead of a copy.
type wordKey struct {
	w [3]uint64
	n int
}

func newWordKey(s string) wordKey {
	var buf [24]byte
	if copy(buf[:], s) != len(s) {
		panic("events: key longer than 24 bytes: " + s)
	}
	return wordKey{[3]uint64{binary.LittleEndian.Uint64(buf[:]), binary.LittleEndian.Uint64(buf[8:]),
		binary.LittleEndian.Uint64(buf[16:])}, len(s)}
}

var (
	secondsKeys = [...]wordKey{newWordKey(`{"rwnd":`), newWordKey(`,"cwnd":`), newWordKey(`,"sndbuf":`),
		newWordKey(`,"app":`), newWordKey(`,"recovery":`), newWordKey(`,"handshake":`)}
	noKey       = newWordKey("")
	goodputPeak = newWordKey(`,"goodput_peak_bps":`)
)

// appendKeyFig writes k, then f as jsonFloat does. The figures of the
// limits (seconds to the microsecond, most of them below one or zero, and
// whole bits per second) are written in place, in the room of one growth
// check; any other goes through jsonFloat.
func appendKeyFig(b []byte, k *wordKey, f float64) []byte {
	if cap(b)-len(b) < 40 {
		b = slices.Grow(b, 512)
	}
	n := len(b)
	// The key's three words, then at most 9 bytes of figure, with constant
	// indexes into w and x (no bounds checks).
	w := b[n : n+40 : n+40]
	binary.LittleEndian.PutUint64(w[0:8], k.w[0])
	binary.LittleEndian.PutUint64(w[8:16], k.w[1])
	binary.LittleEndian.PutUint64(w[16:24], k.w[2])
	n += k.n
	x := w[k.n : k.n+9 : k.n+9]
	switch {
	case math.Float64bits(f) == 0:
		x[0] = '0'
		return b[:n+1]
	case f > 0 && f < 1:
		// A whole number of millionths m (1 to 999999, as a smaller
		// or larger m is not f): "0" and appendFraction's text.
		if m, ok := wholeMillionths(f); ok {
			w, k := fractionText(digits8(uint32(m)))
			x[0] = '0'
			binary.LittleEndian.PutUint64(x[1:9], w)
			return b[:n+1+k]
		}
	case f >= 1 && f < 1e8:
		// A whole number: appendUint's text.
		if m := uint32(f); float64(m) == f {
			if m < 10 {
				x[0] = byte('0' + m)
				return b[:n+1]
			}
			w, k := smallText(digits8(m))
			binary.LittleEndian.PutUint64(x[0:8], w)
			return b[:n+k]
		}
	}
	return jsonFloat(b[:n], f)
}

// dominantKeys holds, for each limit name, its "dominant" member and the
// "goodput_avg_bps" key that follows it.
var dominantKeys = func() (m [len(LimitNames)]string) {
	for i, n := range LimitNames {
		m[i] = `,"dominant":"` + n + `","goodput_avg_bps":`
	}
	return m
}()

// appendDominant writes a direction's "dominant" member and the
// "goodput_avg_bps" key, in one step for the limit names.
func appendDominant(b []byte, dominant string) []byte {
	i := 0
	switch dominant {
	case LimitRwnd:
	case LimitCwnd:
		i = 1
	case LimitSndbuf:
		i = 2
	case LimitApp:
		i = 3
	case LimitRecovery:
		i = 4
	case LimitHandshake:
		i = 5
	default:
		return append(fStr(b, `,"dominant":`, dominant), `,"goodput_avg_bps":`...)
	}
	return append(b, dominantKeys[i]...)
}

func appendDirLimits(b []byte, l *DirLimits) []byte {
	switch l.Source {
	case LimitSourcePackets:
		b = append(b, `{"source":"packets","seconds":`...)
	case LimitSourceKernel:
		b = append(b, `{"source":"kernel","seconds":`...)
	default:
		b = append(fStr(b, `{"source":`, l.Source), `,"seconds":`...)
	}
	b = appendLimitSeconds(b, &l.Seconds)
	b = appendDominant(b, l.Dominant)
	b = appendKeyFig(b, &noKey, l.GoodputAvgBps)
	b = appendKeyFig(b, &goodputPeak, l.GoodputPeakBps)
	b = appendInt(append(b, `,"max_window":`...), l.MaxWindow)
	if k := l.Kernel; k != nil {
		b = fF64(b, `,"kernel":{"busy":`, k.Busy)
		b = fF64(b, `,"rwnd_limited":`, k.RwndLimited)
		b = fF64(b, `,"sndbuf_limited":`, k.SndbufLimited)
		b = append(b, '}')
	}
	if p := l.Packets; p != nil {
		b = appendLimitSeconds(append(b, `,"packets":{"seconds":`...), &p.Seconds)
		b = fStr(b, `,"dominant":`, p.Dominant)
		b = fF64(b, `,"agreement":`, p.Agreement)
		b = append(b, '}')
	}
	return append(b, '}')
}
