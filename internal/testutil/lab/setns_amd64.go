//go:build linux

package lab

// sysSetns is setns(2); the syscall package has no constant for it.
const sysSetns = 308
