package sqlite

import (
	"reflect"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestPackedRecordRoundTrip: a record read back from its packed form is the
// record the query returned, nil and empty fields kept apart, and the key
// is its workspace and name.
func TestPackedRecordRoundTrip(t *testing.T) {
	desc, by, empty := "description", "token:admin", ""
	now := fromMicros(micros(time.Now()))
	tests := []struct {
		name string
		r    secrets.Record
	}{
		{"every field set", everyFieldSet(t)},
		{"as the store reads one", secrets.Record{ID: 300, Revision: 2,
			Secret: secrets.Secret{Workspace: "bench", Name: "s0001234", Description: &desc, CreatedBy: &by, UpdatedBy: &by,
				CreatedAt: now, UpdatedAt: now, Version: 10},
			Sealed: envelope.Sealed{Ciphertext: []byte("ct"), WrappedDEK: []byte("dek"), Provider: "k1", Format: 2}}},
		{"nil and empty", secrets.Record{ID: -1, Revision: 1 << 62,
			Secret: secrets.Secret{Workspace: "w", Name: "n", Description: &empty, CreatedAt: fromMicros(0), UpdatedAt: fromMicros(-5)},
			Sealed: envelope.Sealed{Ciphertext: []byte{}, Format: -3}}},
		{"zero", secrets.Record{Secret: secrets.Secret{CreatedAt: fromMicros(0), UpdatedAt: fromMicros(0)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, p := packRecord(tt.r)
			if key != (recordKey{tt.r.Workspace, tt.r.Name}) {
				t.Errorf("key %+v, want %q/%q", key, tt.r.Workspace, tt.r.Name)
			}
			if got := p.record(); !reflect.DeepEqual(got, tt.r) {
				t.Errorf("unpacked\n%#v\nwant\n%#v", got, tt.r)
			}
		})
	}
}

// TestPackedRecordSlicesAreApart: appending to the unpacked ciphertext must
// not write into the wrapped DEK, nor a change of one hit show in the next.
func TestPackedRecordSlicesAreApart(t *testing.T) {
	_, p := packRecord(secrets.Record{Sealed: envelope.Sealed{Ciphertext: []byte("ct"), WrappedDEK: []byte("dek")}})
	r := p.record()
	_ = append(r.Sealed.Ciphertext, 'X')
	if string(r.Sealed.WrappedDEK) != "dek" {
		t.Errorf("appending to the ciphertext wrote into the wrapped DEK: %q", r.Sealed.WrappedDEK)
	}
	r.Sealed.WrappedDEK[0] = 'Y'
	if got := p.record(); string(got.Sealed.WrappedDEK) != "dek" {
		t.Errorf("a change to one unpacked record shows in the next: %q", got.Sealed.WrappedDEK)
	}
}

// everyFieldSet is a record with every field, at any depth, set to a
// distinct non-zero value, so a field added to secrets.Record or
// envelope.Sealed that packRecord does not keep fails the round trip.
func everyFieldSet(t *testing.T) secrets.Record {
	t.Helper()
	var r secrets.Record
	n := 0
	var set func(v reflect.Value)
	set = func(v reflect.Value) {
		n++
		switch {
		case v.Type() == reflect.TypeFor[time.Time]():
			v.Set(reflect.ValueOf(fromMicros(int64(n) * 1_000_003)))
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				set(v.Field(i))
			}
		case v.Kind() == reflect.String:
			v.SetString(string(rune('a'+n)) + "-value")
		case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
			v.SetInt(int64(n) * 1_000_000_007)
		case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.String:
			s := string(rune('a'+n)) + "-pointed"
			v.Set(reflect.ValueOf(&s))
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			v.SetBytes([]byte{byte(n), 0, 0x80, 0xff})
		default:
			t.Fatalf("everyFieldSet: no value for a field of type %s: teach it and packRecord the new field", v.Type())
		}
	}
	set(reflect.ValueOf(&r).Elem())
	return r
}
