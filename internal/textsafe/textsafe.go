// Package textsafe makes strings that come from a capture (process names,
// interface names, comments) safe to print: every text and CSV output of
// tcpviz passes them through here, so a terminal or a spreadsheet never
// obeys the captured host. JSON and HTML have their own escaping.
package textsafe

import (
	"strings"
	"unicode"
)

// Printable replaces control characters (C0, DEL, C1) and the
// bidirectional-text controls that reorder what a terminal shows with '?'.
func Printable(s string) string {
	for _, r := range s {
		if unsafe(r) {
			return strings.Map(func(r rune) rune {
				if unsafe(r) {
					return '?'
				}
				return r
			}, s)
		}
	}
	return s
}

func unsafe(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// CSVField is Printable for a CSV cell, which a spreadsheet would also
// evaluate as a formula when it starts with =, +, -, or @: such a cell gets
// a leading apostrophe.
func CSVField(s string) string {
	s = Printable(s)
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}
