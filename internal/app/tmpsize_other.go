//go:build !linux

package app

// diskSize reports 0: the file system's size is read on Linux only (Lambda's OS).
func diskSize(string) int64 { return 0 }
