package httpapi

import (
	"net/http"
	"slices"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// encryptionStatusJSON answers GET /apis/secrets/v2/encryption-status
// (docs/api.md §4.9): what rotation has left to do.
type encryptionStatusJSON struct {
	CurrentProvider string            `json:"current_provider"`
	Providers       []string          `json:"providers"`
	Records         []sealedCountJSON `json:"records"`
	Total           int               `json:"total_versions"`
	ToRotate        int               `json:"versions_to_rotate"`
	Unreadable      int               `json:"unreadable_versions"`
}

// sealedCountJSON is one (provider, format) row of the status.
type sealedCountJSON struct {
	Provider   string `json:"provider"`
	Format     int    `json:"format"`
	Current    int    `json:"current_versions"`
	Kept       int    `json:"kept_versions"`
	Binned     int    `json:"recycle_bin_versions"`
	Total      int    `json:"total_versions"`
	UpToDate   bool   `json:"up_to_date"`
	Configured bool   `json:"provider_configured"`
}

// encryptionStatus answers whoever the route table admits: a PlatformAdmin
// in system, as for rotation (the counts name the providers in use, which
// is the operator's business). HEAD stops there: the counts read every
// stored version, and the console asks only whether to show its Keys page.
func (s *Server) encryptionStatus(w http.ResponseWriter, r *http.Request, _ params) {
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	st, err := s.svc.EncryptionStatus(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toEncryptionStatusJSON(st))
}

func toEncryptionStatusJSON(st secrets.EncryptionStatus) encryptionStatusJSON {
	out := encryptionStatusJSON{CurrentProvider: st.Current, Providers: st.Providers,
		Records: make([]sealedCountJSON, len(st.Counts)), Total: st.Total(), ToRotate: st.ToRotate()}
	for i, c := range st.Counts {
		configured := slices.Contains(st.Providers, c.Provider)
		out.Records[i] = sealedCountJSON{Provider: c.Provider, Format: c.Format, Current: c.Current,
			Kept: c.Kept, Binned: c.Binned, Total: c.Total(), UpToDate: st.IsCurrent(c), Configured: configured}
		if !configured {
			out.Unreadable += c.Total()
		}
	}
	return out
}
