//go:build !linux

package localenv

// ProcPeakRSS is only implemented on Linux.
func ProcPeakRSS(int) (int64, error) { return 0, errNoProcfs }

// ResetPeakRSS is only implemented on Linux.
func ResetPeakRSS(int) error { return errNoProcfs }
