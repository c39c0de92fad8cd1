package metrics

import (
	"fmt"
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// NewHDR makes an empty latency histogram of the geometry every result
// uses: 1 ns to 1 h, 3 significant digits. Histograms of one geometry
// merge without loss.
func NewHDR() *hdrhistogram.Histogram { return hdrhistogram.New(1, hdrMax, 3) }

// RecordHDR records a latency into h, clamped into its range.
func RecordHDR(h *hdrhistogram.Histogram, d time.Duration) {
	_ = h.RecordValue(min(max(int64(d), 1), hdrMax))
}

// EncodeHDR gives a histogram in HdrHistogram's standard V2 compressed
// encoding, base64 (the "HISTF…" strings every HdrHistogram library reads);
// values are nanoseconds. An empty or nil histogram is "".
func EncodeHDR(h *hdrhistogram.Histogram) string {
	if h == nil || h.TotalCount() == 0 {
		return ""
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		// Encoding a histogram in memory fails only on a programming
		// mistake (an unsupported version).
		panic(fmt.Sprintf("encoding an HDR histogram: %v", err))
	}
	return string(b)
}

// DecodeHDR reads what EncodeHDR wrote ("" is an empty histogram) into a
// histogram of the standard geometry, so that it merges with others; a
// histogram of another geometry whose values do not all fit is an error.
func DecodeHDR(s string) (*hdrhistogram.Histogram, error) {
	out := NewHDR()
	if s == "" {
		return out, nil
	}
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("not an HdrHistogram (V2 compressed, base64): %w", err)
	}
	if dropped := out.Merge(h); dropped > 0 {
		return nil, fmt.Errorf("%d values of the histogram are outside 1ns..1h", dropped)
	}
	return out, nil
}

// Quantile gives the value at the percentile p of the calls recorded in h,
// whose exact extremes are lo and hi, by the nearest-rank definition (the
// ⌈p·n⌉-th smallest sample), as the midpoint of the HDR bucket that holds
// it (so within half a bucket, 0.05%, of the sample), never beyond the
// exact extremes. It is a function of the bucket counts and the extremes
// only, so the quantile of merged histograms is the quantile of the union
// of their calls, exactly.
func Quantile(h *hdrhistogram.Histogram, p float64, lo, hi time.Duration) time.Duration {
	n := h.TotalCount()
	if n == 0 {
		return 0
	}
	k := math.Ceil(p / 100 * float64(n))
	// HDR ranks by rounding p·n; ask for the percentile that rounds to k.
	v := h.ValueAtPercentile((k - 0.25) / float64(n) * 100)
	// The smallest value equivalent to v, by bisection (the library does
	// not export it): equivalence ranges are contiguous.
	l, u := v/2, v
	for l < u {
		m := l + (u-l)/2
		if h.ValuesAreEquivalent(m, v) {
			u = m
		} else {
			l = m + 1
		}
	}
	mid := l + (v-l)/2
	return min(max(time.Duration(mid), lo), hi)
}

// SLOQuantile gives, in seconds, the value at the percentile p of events
// of which the calls recorded in h (with exact extremes lo and hi)
// succeeded and the rest were bad, slower than any of them: the
// ⌈p·events⌉-th smallest, +Inf when that rank falls on a bad event, NaN
// without events. Like Quantile it depends on bucket counts and extremes
// only, so it merges exactly.
func SLOQuantile(h *hdrhistogram.Histogram, p float64, events int64, lo, hi time.Duration) float64 {
	if events <= 0 {
		return math.NaN()
	}
	k := int64(math.Ceil(p / 100 * float64(events)))
	if k > h.TotalCount() {
		return math.Inf(1)
	}
	return quantileRank(h, k, lo, hi).Seconds()
}
