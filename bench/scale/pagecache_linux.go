package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropFile asks the kernel to drop the file's pages from its page cache.
func dropFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
