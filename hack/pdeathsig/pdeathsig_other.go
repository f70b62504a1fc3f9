//go:build !linux

package main

// dieWithParent does nothing: the parent-death signal is Linux's.
func dieWithParent() error { return nil }
