//go:build unix

package monitor

import (
	"io/fs"
	"syscall"
)

// fileID names a file by device and inode, so a rotated or replaced file is
// told from the one read before under the same name.
func fileID(st fs.FileInfo) (dev, ino uint64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), s.Ino
	}
	return 0, 0
}
