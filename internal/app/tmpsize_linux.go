package app

import "syscall"

// diskSize reports the size in bytes of the file system holding dir (in Lambda, /tmp: the
// function's ephemeral storage), or 0 if it cannot tell.
func diskSize(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Blocks) * int64(st.Bsize)
}
