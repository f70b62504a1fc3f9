package main

import (
	"math"
	"sort"
)

// lagStats summarises status lags in seconds.
type lagStats struct {
	n             int
	p50, p95, max float64
}

func newLagStats(lags []float64) lagStats {
	s := lagStats{n: len(lags), p50: percentile(lags, 50), p95: percentile(lags, 95)}
	for _, l := range lags {
		s.max = max(s.max, l)
	}
	return s
}

// percentile is the nearest-rank percentile p (0-100) of xs; 0 for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// med is the median over runs of one figure.
func med[T any](runs []T, get func(T) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = get(r)
	}
	return median(xs)
}

// round rounds x to the given number of decimals.
func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}
