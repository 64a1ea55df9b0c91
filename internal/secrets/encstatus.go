package secrets

import (
	"context"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// EncryptionStatus is how the stored values are sealed and what rotation
// has left to do (docs/key-management.md, "Checking rotation progress").
type EncryptionStatus struct {
	Current   string        // the provider every new write uses
	Providers []string      // every configured provider, sorted; "" is the development key
	Counts    []SealedCount // stored versions per (provider, format), ordered
}

// IsCurrent reports whether c's versions need no rotation: they are on
// the current provider in format 2, as Keyring.IsCurrent decides per record.
func (st EncryptionStatus) IsCurrent(c SealedCount) bool {
	return c.Provider == st.Current && c.Format == 2
}

// ToRotate is the number of stored versions a rotation would re-seal.
func (st EncryptionStatus) ToRotate() int {
	n := 0
	for _, c := range st.Counts {
		if !st.IsCurrent(c) {
			n += c.Total()
		}
	}
	return n
}

// Total is the number of stored versions.
func (st EncryptionStatus) Total() int {
	n := 0
	for _, c := range st.Counts {
		n += c.Total()
	}
	return n
}

// EncryptionStatus counts the stored versions per provider and format
// with one aggregate query; it decrypts nothing, so it is cheap enough to
// poll while a rotation runs.
func (s *Service) EncryptionStatus(ctx context.Context) (EncryptionStatus, error) {
	counts, err := s.store.CountSealed(ctx)
	if err != nil {
		return EncryptionStatus{}, internal(MsgUnexpected, err)
	}
	return EncryptionStatus{Current: s.keys.Current(), Providers: s.keys.Names(), Counts: counts}, nil
}

// UnreadableByProvider sums counts per provider that ring does not have:
// those versions cannot be read, nor rotated, until it is configured again.
func UnreadableByProvider(counts []SealedCount, ring *envelope.Keyring) map[string]int {
	out := map[string]int{}
	for _, c := range counts {
		if !ring.Has(c.Provider) {
			out[c.Provider] += c.Total()
		}
	}
	return out
}
