package wireshark

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/feed"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// kernelSamples are tcpviz's own captures with kernel records (samples/).
func kernelSamples(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join("..", "..", "samples", "kernel-*.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Fatal("no samples/kernel-*.pcapng: the captures with kernel records are missing")
	}
	return m
}

// kframe is one tcpviz custom block as kblock decodes it.
type kframe struct {
	frame uint64
	data  []byte
	rec   kblock.Record
	n     int // record length
	err   error
}

// readKernel decodes every tcpviz custom block of a capture with kblock.
func readKernel(t *testing.T, path string) []kframe {
	t.Helper()
	var out []kframe
	feed.File(t, path, feed.Func(func(rec *pcapng.Record) error {
		if rec.Type == pcapng.RecordCustom && rec.PEN == kblock.PEN {
			k := kframe{frame: rec.Frame, data: slices.Clone(rec.CustomData)}
			k.n, k.err = kblock.Decode(k.data, &k.rec)
			out = append(out, k)
		}
		return nil
	}))
	return out
}

// headerJSON are the names of kblock's JSON for the fixed header, which
// the plugin shows under names of its own.
var headerJSON = map[string]bool{"record": true, "cookie": true, "saddr": true, "daddr": true, "sport": true, "dport": true}

// kblockJSON returns the fields of a record's JSON (the form tcpviz writes
// in events.jsonl) outside the header: name -> canonical value. The plugin
// names its fields after these (tcpviz.NAME).
func kblockJSON(t *testing.T, r *kblock.Record) map[string]string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for k, v := range m {
		if headerJSON[k] {
			continue
		}
		switch v := v.(type) {
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = map[bool]string{false: "0", true: "1"}[v]
		case string:
			out[k] = v
		default:
			t.Fatalf("kblock JSON field %q of type %T", k, v)
		}
	}
	return out
}

// expected returns what the plugin must show for a record: field name ->
// canonical value. Fields kblock's JSON leaves out (zero values) are absent.
func expected(t *testing.T, k *kframe) map[string]string {
	r := &k.rec
	w := map[string]string{
		"tcpviz.version": "1",
		"tcpviz.kind":    strconv.Itoa(int(r.Kind)),
		"tcpviz.hdr_len": strconv.Itoa(int(binary.LittleEndian.Uint16(k.data[2:]))),
		"tcpviz.rec_len": strconv.Itoa(k.n),
		"tcpviz.time":    strconv.FormatInt(r.TS, 10),
		"tcpviz.cookie":  strconv.FormatUint(r.Cookie, 10),
		"tcpviz.family":  strconv.Itoa(int(k.data[24])),
		"tcpviz.sport":   strconv.Itoa(int(r.Sport)),
		"tcpviz.dport":   strconv.Itoa(int(r.Dport)),
	}
	if r.Saddr.Is4() {
		w["tcpviz.saddr"], w["tcpviz.daddr"] = r.Saddr.String(), r.Daddr.String()
	} else {
		w["tcpviz.saddr6"], w["tcpviz.daddr6"] = r.Saddr.String(), r.Daddr.String()
	}
	if r.Kind == kblock.KindRetransmit {
		w["tcpviz.retrans_len"] = strconv.FormatUint(uint64(r.EndSeq-r.Seq), 10)
	}
	for name, v := range kblockJSON(t, r) {
		w["tcpviz."+name] = v
	}
	return w
}

// canon turns tshark's text for a field into the form expected uses.
func canon(typ, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	switch {
	case strings.HasPrefix(typ, "FT_UINT"), typ == "FT_FRAMENUM":
		n, err := strconv.ParseUint(s, 0, 64)
		return strconv.FormatUint(n, 10), err
	case typ == "FT_ABSOLUTE_TIME":
		tm, err := time.Parse("Jan _2, 2006 15:04:05.000000000 MST", s)
		return strconv.FormatInt(tm.UnixNano(), 10), err
	case typ == "FT_BOOLEAN":
		b, err := strconv.ParseBool(s)
		return map[bool]string{false: "0", true: "1"}[b], err
	case typ == "FT_IPv4", typ == "FT_IPv6":
		a, err := netip.ParseAddr(s)
		return a.String(), err
	}
	return s, nil
}

// printableASCII reports whether s is plain printable ASCII.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// recordFields are the plugin's fields shown on kernel records (not the
// per-packet copy, not the unknown-field items).
func recordFields(all map[string]tsharkField) []string {
	var out []string
	for name := range all {
		if !strings.HasPrefix(name, "tcpviz.pkt") && !strings.HasPrefix(name, "tcpviz.field") && all[name].typ != "FT_NONE" &&
			all[name].typ != "FT_PROTOCOL" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// unknownCodes lists the field codes of a record that kblock does not know,
// found by decoding each code alone: a known code changes the record.
func unknownCodes(k *kframe) []string {
	hlen := int(binary.LittleEndian.Uint16(k.data[2:]))
	var out []string
	for off := hlen; off+4 <= k.n; {
		code := binary.LittleEndian.Uint16(k.data[off:])
		n := int(binary.LittleEndian.Uint16(k.data[off+2:]))
		probe := slices.Clone(k.data[:kblock.HeaderLen])
		probe[0], probe[1] = kblock.Version, 9 // a kind whose records have no always-written fields
		binary.LittleEndian.PutUint16(probe[2:], kblock.HeaderLen)
		binary.LittleEndian.PutUint32(probe[4:], kblock.HeaderLen+8)
		probe = binary.LittleEndian.AppendUint16(probe, code)
		probe = binary.LittleEndian.AppendUint16(probe, 4)
		probe = binary.LittleEndian.AppendUint32(probe, 1)
		var with, without kblock.Record
		kblock.Decode(probe, &with)
		binary.LittleEndian.PutUint32(probe[4:], kblock.HeaderLen)
		kblock.Decode(probe, &without)
		with.Kind, without.Kind = 0, 0
		if reflect.DeepEqual(with, without) && code != kblock.FieldComm {
			out = append(out, strconv.Itoa(int(code)))
		}
		off += 4 + (n+3)&^3
	}
	return out
}

// TestPluginKnowsEveryKblockField keeps the plugin's field table in step
// with the codec: every field kblock decodes has a tcpviz.NAME field.
func TestPluginKnowsEveryKblockField(t *testing.T) {
	ts := newTshark(t)
	fields := ts.fields(t)
	names := make(map[string]bool)
	for _, k := range []kblock.Kind{kblock.KindProbe, kblock.KindRetransmit, kblock.KindState, kblock.KindReset} {
		r := filled(k, 0)
		for name := range kblockJSON(t, &r) {
			names[name] = true
		}
	}
	for name := range names {
		if _, ok := fields["tcpviz."+name]; !ok {
			t.Errorf("kblock field %q has no tcpviz.%s in contrib/wireshark/tcpviz.lua: add it to FIELDS", name, name)
		}
	}
	t.Logf("%d kblock fields, each with a plugin field", len(names))
}

// TestFieldsMatchKblock: on tcpviz's kernel-record samples and on a
// synthetic capture holding every kind and field, every field the plugin
// shows on a kernel record equals what kblock decodes from the same frame,
// unknown codes are listed, records kblock refuses are flagged malformed,
// and no Lua error occurs anywhere.
func TestFieldsMatchKblock(t *testing.T) {
	ts := newTshark(t)
	all := ts.fields(t)
	names := recordFields(all)
	extra := []string{"tcpviz.field.code", "tcpviz.malformed", "tcpviz.version.unsupported", "_ws.col.Info", "_ws.lua.error"}
	for _, path := range append(kernelSamples(t), synthCapture(t)) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			kfs := readKernel(t, path)
			if len(kfs) == 0 {
				t.Fatal("no kernel records")
			}
			rows := ts.table(t, path, "", append(slices.Clone(names), extra...))
			var checked, bad int
			for i := range kfs {
				k := &kfs[i]
				row := rows[strconv.FormatUint(k.frame, 10)]
				if row == nil {
					t.Errorf("frame %d: tshark printed no row", k.frame)
					continue
				}
				flagged := row["tcpviz.malformed"] != "" || row["tcpviz.version.unsupported"] != ""
				if k.err != nil {
					bad++
					if !flagged {
						t.Errorf("frame %d: kblock refuses the record (%v), the plugin does not flag it", k.frame, k.err)
					}
					continue
				}
				if flagged {
					t.Errorf("frame %d: plugin flags a record kblock decodes: %s%s", k.frame, row["tcpviz.malformed"], row["tcpviz.version.unsupported"])
				}
				want := expected(t, k)
				for name := range want {
					if _, ok := all[name]; !ok {
						t.Errorf("frame %d: kblock decodes %s, the plugin has no such field", k.frame, name)
					}
				}
				for _, name := range names {
					got, err := canon(all[name].typ, row[name])
					if err != nil {
						t.Errorf("frame %d: %s = %q: %v", k.frame, name, row[name], err)
						continue
					}
					w, ok := want[name]
					switch {
					case !ok && (got == "" || got == "0"):
						// kblock's JSON leaves zero values out.
					case name == "tcpviz.comm" && !printableASCII(w):
						// Not printable: shown escaped; it must not carry
						// control bytes into a display.
						if got == "" || !printableASCII(got) {
							t.Errorf("frame %d: comm %q shown as %q", k.frame, w, got)
						}
					case got != w:
						t.Errorf("frame %d: %s = %q, kblock decodes %q", k.frame, name, got, w)
					}
				}
				if got, w := row["tcpviz.field.code"], strings.Join(unknownCodes(k), ","); got != w {
					t.Errorf("frame %d: unknown field codes %q, want %q", k.frame, got, w)
				}
				if info := row["_ws.col.Info"]; !strings.HasPrefix(info, "kernel "+k.rec.Kind.String()) || !printableASCII(info) {
					t.Errorf("frame %d: Info column %q", k.frame, info)
				}
				checked++
			}
			for f, row := range rows {
				if row["_ws.lua.error"] != "" {
					t.Errorf("frame %s: Lua error: %s", f, row["_ws.lua.error"])
				}
			}
			t.Logf("%d kernel records compared field by field (%d fields each), %d malformed ones flagged", checked, len(names), bad)
		})
	}
}
