package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram resolution: every power-of-two range of values is
// split into 2^subBits equal buckets, so a reported value is at most
// 1/2^subBits (0.8 %) above the true one. That is finer than the run-to-run
// noise on a shared machine, and keeps a histogram at 59 KiB whatever it counts.
const (
	subBits    = 7
	subCount   = 1 << subBits
	linearMax  = 2 * subCount // values below this get one bucket each
	maxShift   = 64 - subBits - 1
	numBuckets = linearMax + maxShift*subCount
)

// Histogram counts durations in logarithmic buckets (the HdrHistogram layout):
// exact below 256 ns, then 128 buckets per doubling. The zero value is ready to
// use. It is not safe for concurrent use; give each goroutine its own and Merge.
type Histogram struct {
	counts   [numBuckets]uint64
	total    uint64
	min, max time.Duration
}

// bucketOf maps a non-negative value to its bucket index.
func bucketOf(v uint64) int {
	if v < linearMax {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [subCount, 2*subCount)
	return linearMax + (shift-1)*subCount + int(v>>shift) - subCount
}

// bucketHigh is the largest value that maps to bucket i, so percentiles are
// never reported lower than what was measured.
func bucketHigh(i int) uint64 {
	if i < linearMax {
		return uint64(i)
	}
	shift := (i-linearMax)/subCount + 1
	sub := uint64((i-linearMax)%subCount + subCount)
	return (sub+1)<<shift - 1
}

// Record adds one observation; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.total == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.total++
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest observation (exact, not bucketed).
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the value below or at which a fraction q (0–1) of the
// observations lie, using the nearest-rank definition. It is the upper edge of
// the bucket holding that rank, clamped to the exact minimum and maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	rank = min(rank, h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketHigh(i))
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
