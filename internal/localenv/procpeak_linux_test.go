package localenv

import (
	"os"
	"syscall"
	"testing"

	. "github.com/onsi/gomega"
)

// TestResetPeakRSS maps and touches 128 MiB, unmaps it (the resident set
// shrinks at once, the peak stays), then resets the peak.
func TestResetPeakRSS(t *testing.T) {
	g := NewWithT(t)
	const size = 128 << 20
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	g.Expect(err).NotTo(HaveOccurred())
	for i := 0; i < size; i += os.Getpagesize() {
		mem[i] = 1
	}
	peak, err := ProcPeakRSS(os.Getpid())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(syscall.Munmap(mem)).To(Succeed())
	u, err := ProcUsage(os.Getpid())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(peak).To(BeNumerically(">=", u.RSSBytes+size*3/4), "the peak holds the mapping, the resident set no longer")

	g.Expect(ResetPeakRSS(os.Getpid())).To(Succeed())
	after, err := ProcPeakRSS(os.Getpid())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(after).To(BeNumerically("<", peak-size*3/4), "the peak starts again from the resident set")
}
