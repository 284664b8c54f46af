package textsafe

import "testing"

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want, csv string }{
		{"nginx", "nginx", "nginx"},
		{"a\x1b[2Jb", "a?[2Jb", "a?[2Jb"},
		{"\x00\t\n\r\x7f", "?????", "?????"},
		{"x\u0085y\u009bz", "x?y?z", "x?y?z"},              // C1, including CSI
		{"abc\u202egpj.exe", "abc?gpj.exe", "abc?gpj.exe"}, // right-to-left override
		{"=HYPERLINK(1)", "=HYPERLINK(1)", "'=HYPERLINK(1)"},
		{"\t=1", "?=1", "?=1"},
		{"-bash", "-bash", "'-bash"},
		{"日本語", "日本語", "日本語"},
	}
	for _, tc := range tests {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := CSVField(tc.in); got != tc.csv {
			t.Errorf("CSVField(%q) = %q, want %q", tc.in, got, tc.csv)
		}
	}
}
