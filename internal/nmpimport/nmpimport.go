// Package nmpimport reads secrets exported from a NeMo Platform deployment:
// JSON Lines of `platform_secret` entity records as the entity store returns
// them (docs/import.md), turned into format-1 records for Coffer's store.
package nmpimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// Entry is one input record: a Record ready to import, or the reason it
// cannot be (Err), or a line that is not a secret at all (Ignored).
type Entry struct {
	Record  secrets.Record
	Err     string
	Ignored string
}

// entity is the reference's entity record shape.
type entity struct {
	EntityType *string         `json:"entity_type"`
	Workspace  string          `json:"workspace"`
	Name       string          `json:"name"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  *string         `json:"created_at"`
	UpdatedAt  *string         `json:"updated_at"`
	CreatedBy  *string         `json:"created_by"`
	UpdatedBy  *string         `json:"updated_by"`
}

type secretData struct {
	Description *string `json:"description"`
	Data        string  `json:"_data"`
	EncDEK      string  `json:"_encrypted_dek"`
	Provider    string  `json:"_secret_provider"`
}

// Read decodes every JSON value in r (JSON Lines, or any whitespace between
// values; no line-length limit) and calls fn for each record. A value that
// is a page object ({"data": [...]}) is expanded. now stamps records without
// timestamps.
func Read(r io.Reader, now time.Time, fn func(Entry) error) error {
	dec := json.NewDecoder(r)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("input is not JSON Lines: %w", err)
		}
		if err := expand(raw, now, fn); err != nil {
			return err
		}
	}
}

func expand(raw json.RawMessage, now time.Time, fn func(Entry) error) error {
	var e entity
	if err := json.Unmarshal(raw, &e); err != nil {
		return fn(Entry{Err: "not an entity record"})
	}
	if d := bytes.TrimSpace(e.Data); len(d) > 0 && d[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(d, &items); err != nil {
			return fn(Entry{Err: "malformed page object"})
		}
		for _, it := range items {
			if err := expand(it, now, fn); err != nil {
				return err
			}
		}
		return nil
	}
	return fn(toEntry(e, now))
}

func toEntry(e entity, now time.Time) Entry {
	rec := secrets.Record{Secret: secrets.Secret{Workspace: e.Workspace, Name: e.Name,
		CreatedBy: nonEmpty(e.CreatedBy), UpdatedBy: nonEmpty(e.UpdatedBy)}}
	if e.EntityType != nil && *e.EntityType != "platform_secret" {
		return Entry{Record: rec, Ignored: "entity_type '" + *e.EntityType + "' is not platform_secret"}
	}
	var d secretData
	if err := json.Unmarshal(e.Data, &d); err != nil || d.Data == "" || d.EncDEK == "" {
		return Entry{Record: rec, Err: "missing _data or _encrypted_dek"}
	}
	ct, err := envelope.DecodeBase64(d.Data)
	if err != nil {
		return Entry{Record: rec, Err: "_data is not valid base64"}
	}
	var tErr error
	rec.CreatedAt, tErr = parseTime(e.CreatedAt, now)
	if tErr == nil {
		rec.UpdatedAt, tErr = parseTime(e.UpdatedAt, rec.CreatedAt)
	}
	if tErr != nil {
		return Entry{Record: rec, Err: "invalid timestamp"}
	}
	rec.Description = d.Description
	rec.Sealed = envelope.Sealed{Ciphertext: ct, WrappedDEK: []byte(d.EncDEK), Provider: d.Provider, Format: envelope.FormatV1}
	return Entry{Record: rec}
}

func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

// parseTime accepts RFC 3339 and the reference's naive timestamps (UTC).
func parseTime(s *string, def time.Time) (time.Time, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return def, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, *s); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, errors.New("invalid timestamp")
}
