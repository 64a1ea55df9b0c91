package envelope

import (
	"context"
	"errors"
	"io"
	"time"
)

// ProviderHook is told about each call of a provider: op is "wrap",
// "unwrap" or "unwrap_v1", outcome "ok", "unavailable" (the provider's
// service could not be reached or did not answer in time) or "error", and
// d how long the call took. It must be safe for concurrent use.
type ProviderHook func(op, outcome string, d time.Duration)

// Observed returns a keyring with k's providers and current provider whose
// provider calls are also reported to hook(name) for the provider's name
// (a nil hook leaves that provider as it is). The server wires metrics
// this way (docs/operations.md, "Metrics"), so providers need no
// instrumentation of their own.
func (k *Keyring) Observed(hook func(provider string) ProviderHook) *Keyring {
	// The DEK cache is shared: a kept DEK is the unwrap the wrapped
	// provider would give (and a hit is no provider call to report).
	o := &Keyring{providers: make(map[string]Provider, len(k.providers)), current: k.current,
		local: k.local, deks: k.deks}
	for name, p := range k.providers {
		if h := hook(name); h != nil {
			p = observedProvider{Provider: p, hook: h}
		}
		o.providers[name] = p
	}
	return o
}

type observedProvider struct {
	Provider
	hook ProviderHook
}

// Health forwards to the provider, so Keyring.Health sees through the
// wrapper.
func (p observedProvider) Health() error {
	if h, ok := p.Provider.(HealthChecker); ok {
		return h.Health()
	}
	return nil
}

// Close forwards to the provider, so Keyring.Close sees through the
// wrapper.
func (p observedProvider) Close() error {
	if c, ok := p.Provider.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (p observedProvider) WrapV2(ctx context.Context, dek []byte, ws, name string) ([]byte, error) {
	start := time.Now()
	b, err := p.Provider.WrapV2(ctx, dek, ws, name)
	p.hook("wrap", outcome(err), time.Since(start))
	return b, err
}

func (p observedProvider) UnwrapV2(ctx context.Context, wrapped []byte, ws, name string) ([]byte, error) {
	start := time.Now()
	b, err := p.Provider.UnwrapV2(ctx, wrapped, ws, name)
	p.hook("unwrap", outcome(err), time.Since(start))
	return b, err
}

func (p observedProvider) UnwrapV1(ctx context.Context, wrapped []byte) ([]byte, error) {
	start := time.Now()
	b, err := p.Provider.UnwrapV1(ctx, wrapped)
	p.hook("unwrap_v1", outcome(err), time.Since(start))
	return b, err
}

// outcome classifies a provider error as providerFailure does.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return "unavailable"
	}
	return "error"
}
