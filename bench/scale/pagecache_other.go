//go:build !linux

package main

import "errors"

func dropFile(string) error {
	return errors.New("-page-cache drop needs Linux (posix_fadvise)")
}
