package main

import "testing"

func TestIsPythonSpace(t *testing.T) {
	for _, r := range []rune{' ', '\t', '\n', '\r', '\v', '\f', 0x1c, 0x1f, 0x85, 0xa0, 0x2028, 0x3000} {
		if !isPythonSpace(r) {
			t.Errorf("isPythonSpace(%U) = false", r)
		}
	}
	for _, r := range []rune{'a', 0, 0x1b, 0x200b, 0xfeff} {
		if isPythonSpace(r) {
			t.Errorf("isPythonSpace(%U) = true", r)
		}
	}
}
