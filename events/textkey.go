package events

import "unsafe"

// The texts events carry are mostly the program's constants (types, kinds,
// reasons, severities), so the code that keeps something per text (the
// writer's kept heads, the pipeline's counters) knows a text by its
// address and length: it never reads the bytes to tell two such texts
// apart.

// SameString reports whether a and b are the same string: the same bytes
// at the same address (then they hold the same text).
func SameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// TextKey is the address of s and its length in one word.
func TextKey(s string) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.StringData(s)))) + uint64(len(s))
}

// TextSet is the set, of 1<<bits, that key k falls in (bits from 1 to 63).
func TextSet(k uint64, bits uint) uint64 { return k * fib >> (64 - bits) }

// fib is 2^64 over the golden ratio: the top bits of k*fib spread keys
// that are close together (the constants' addresses are; their low bits
// alone put strings that alternate in one place, depending on the build's
// layout).
const fib = 0x9e3779b97f4a7c15
