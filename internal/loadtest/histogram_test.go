package loadtest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the nearest-rank quantile of sorted samples, the reference
// the histogram must match within its resolution.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(q*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestBucketRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 123456789, 1 << 40, 1<<63 - 1, 1<<64 - 1} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		if hi := bucketHigh(i); hi < v {
			t.Errorf("bucketHigh(bucketOf(%d)) = %d, below the value", v, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Errorf("value %d also fits bucket %d", v, i-1)
		}
	}
}

func TestBucketsContiguous(t *testing.T) {
	for i := 1; i < numBuckets; i++ {
		if got := bucketOf(bucketHigh(i-1) + 1); got != i {
			t.Fatalf("value after bucket %d maps to %d", i-1, got)
		}
	}
}

func TestQuantileUniform(t *testing.T) {
	var h Histogram
	for v := 1; v <= 10000; v++ { // 1..10000 µs: the q-quantile is q*10000 µs
		h.Record(time.Duration(v) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := time.Duration(q*10000) * time.Microsecond
		assertClose(t, q, h.Quantile(q), want)
	}
	assertClose(t, 0, h.Quantile(0), time.Microsecond)
}

func TestQuantileAgainstSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		"exponential": func() time.Duration { return time.Duration(rng.ExpFloat64() * 2e6) },
		"lognormal-ish": func() time.Duration {
			return time.Duration(50e3 * (1 + rng.NormFloat64()*rng.NormFloat64()*rng.NormFloat64()*rng.NormFloat64()))
		},
		"bimodal": func() time.Duration {
			if rng.IntN(100) == 0 {
				return 40*time.Millisecond + time.Duration(rng.IntN(1e6))
			}
			return 300*time.Microsecond + time.Duration(rng.IntN(1e5))
		},
	}
	for name, draw := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			samples := make([]time.Duration, 200000)
			for i := range samples {
				samples[i] = max(draw(), 0)
				h.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0.5, 0.99, 0.999} {
				assertClose(t, q, h.Quantile(q), exactQuantile(samples, q))
			}
			if h.Max() != samples[len(samples)-1] {
				t.Errorf("max %v, want %v", h.Max(), samples[len(samples)-1])
			}
		})
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	for v := range 1000 {
		d := time.Duration(v*v) * time.Nanosecond
		all.Record(d)
		if v%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{})
	if m != all {
		t.Fatal("merged histogram differs from the one that saw every value")
	}
}

func TestEmptyAndSingle(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 {
		t.Fatal("empty histogram must report zero")
	}
	h.Record(1234567 * time.Nanosecond)
	for _, q := range []float64{0, 0.5, 1} {
		if got := h.Quantile(q); got != 1234567 {
			t.Errorf("single value, q=%v: %v", q, got)
		}
	}
}

// assertClose allows the histogram's resolution: reported values may be up to
// 1/subCount above the exact quantile, never below it.
func assertClose(t *testing.T, q float64, got, want time.Duration) {
	t.Helper()
	if got < want || float64(got-want) > float64(want)/subCount+1 {
		t.Errorf("q=%v: got %v, want %v (+%.1f%% allowed)", q, got, want, 100.0/subCount)
	}
}
