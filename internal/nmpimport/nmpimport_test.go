package nmpimport

import (
	"strings"
	"testing"
	"time"
)

// The reference's format-1 vector (docs/crypto.md §5) as an exported entity.
const vectorLine = `{"entity_type":"platform_secret","workspace":"default","name":"hf-token","created_at":"2025-03-04T05:06:07.123456789","created_by":"alice","data":{"description":"HF","_data":"IiIiIiIiIiIiIiIif5FYLLiu8i+JWoFIJ82Mu+D2SmU0SY5IaJAybcPlbWs=","_encrypted_dek":"MzMzMzMzMzMzMzMzMzMzM0RERERERERERERERNbp3AiTc6a4K5rcbj+pKKIK66bgucSu3W5Air0j2wKSLrn07NBeYKpOo1F77KZ9iao7FPKe/QO2FvdO5Q==","_secret_provider":"v1"}}`

func readAll(t *testing.T, input string) []Entry {
	t.Helper()
	var out []Entry
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := Read(strings.NewReader(input), now, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadVector(t *testing.T) {
	es := readAll(t, vectorLine+"\n")
	if len(es) != 1 || es[0].Err != "" || es[0].Ignored != "" {
		t.Fatalf("entries %+v", es)
	}
	r := es[0].Record
	if r.Workspace != "default" || r.Name != "hf-token" || *r.Description != "HF" || *r.CreatedBy != "alice" || r.UpdatedBy != nil {
		t.Errorf("metadata %+v", r)
	}
	if r.Sealed.Format != 1 || r.Sealed.Provider != "v1" || len(r.Sealed.Ciphertext) != 44 || len(r.Sealed.WrappedDEK) != 120 {
		t.Errorf("sealed %d %q %d %d", r.Sealed.Format, r.Sealed.Provider, len(r.Sealed.Ciphertext), len(r.Sealed.WrappedDEK))
	}
	want := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
	if !r.CreatedAt.Equal(want) || !r.UpdatedAt.Equal(want) {
		t.Errorf("times %v %v, want %v (naive = UTC, truncated to µs)", r.CreatedAt, r.UpdatedAt, want)
	}
}

func TestReadPagesAndOthers(t *testing.T) {
	input := `{"data":[` + vectorLine + `,` + vectorLine + `],"pagination":{}}` + "\n" +
		`{"entity_type":"model","workspace":"w","name":"m","data":{}}` + "\n" +
		`{"workspace":"w","name":"bad","data":{"_data":"%%%","_encrypted_dek":"x","_secret_provider":""}}` + "\n" +
		`{"workspace":"w","name":"nodata","data":{}}` + "\n" +
		`{"workspace":"w","name":"t","created_at":"yesterday","data":{"_data":"AAAA","_encrypted_dek":"x"}}` + "\n" +
		`{"workspace":"w","name":"now","data":{"_data":"AAAA","_encrypted_dek":"x"}}`
	es := readAll(t, input)
	if len(es) != 7 {
		t.Fatalf("%d entries", len(es))
	}
	checks := []struct{ err, ignored string }{
		{"", ""}, {"", ""}, {"", "entity_type 'model' is not platform_secret"},
		{"_data is not valid base64", ""}, {"missing _data or _encrypted_dek", ""}, {"invalid timestamp", ""}, {"", ""},
	}
	for i, c := range checks {
		if es[i].Err != c.err || es[i].Ignored != c.ignored {
			t.Errorf("entry %d: %q/%q, want %q/%q", i, es[i].Err, es[i].Ignored, c.err, c.ignored)
		}
	}
	if got := es[6].Record.CreatedAt; !got.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("absent timestamp = %v, want now", got)
	}
	if err := Read(strings.NewReader(`{"a":`), time.Now(), func(Entry) error { return nil }); err == nil {
		t.Error("truncated input accepted")
	}
}
