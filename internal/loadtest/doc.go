// Package loadtest implements `coffer bench`: a closed-loop HTTP load
// generator that measures Coffer's secrets endpoints against a ceiling (a
// trivial net/http server driven by the same generator), so that figures from
// a small shared machine can be read as "how close to what this generator and
// this box can do at all" rather than as absolute numbers.
//
// The generator runs one goroutine per keep-alive connection; each goroutine
// sends a request, reads the whole body, records the latency in its own
// histogram and repeats until the phase ends. Histograms are merged after the
// phase, so recording needs no locks and memory stays bounded whatever the
// request count.
package loadtest
