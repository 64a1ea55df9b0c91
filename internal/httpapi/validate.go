package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// item is one 422 validation item (docs/api.md §1.5). An empty Input is omitted;
// json.RawMessage("null") is sent as null.
type item struct {
	Type  string          `json:"type"`
	Loc   []any           `json:"loc"`
	Msg   string          `json:"msg"`
	Input json.RawMessage `json:"input,omitempty"`
	Ctx   any             `json:"ctx,omitempty"`
}

var errorCtx = map[string]any{"error": map[string]any{}}

func rawString(s string) json.RawMessage {
	b, _ := marshal(s)
	return b
}

// readBody reads at most the configured number of bytes; a larger body is
// answered with 413 here and ok is false.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	limit := s.limits.MaxBodyBytes
	if r.ContentLength > limit {
		s.tooLarge(w)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "Could not read the request body")
		return nil, false
	}
	if int64(len(body)) > limit {
		s.tooLarge(w)
		return nil, false
	}
	return body, true
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeDetail(w, http.StatusRequestEntityTooLarge,
		"Request body too large: the limit is "+strconv.FormatInt(s.limits.MaxBodyBytes, 10)+" bytes")
}

// object is a request body that parsed as a JSON object. Duplicate members:
// the last one wins, as encoding/json does for maps.
type object struct {
	raw    json.RawMessage
	fields map[string]json.RawMessage
	// echo is false on the secrets bodies, whose body and value are never
	// echoed as input because they can contain the secret value.
	echo bool
}

// parseObject decodes body as a JSON object, or returns the single item that
// explains why it is not one.
func parseObject(body []byte, echo bool) (object, *item) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return object{}, &item{Type: "missing", Loc: []any{"body"}, Msg: "Field required", Input: json.RawMessage("null")}
	}
	// encoding/json would silently replace invalid UTF-8 with U+FFFD.
	if !utf8.Valid(body) {
		return object{}, jsonInvalid(invalidUTF8Offset(body), "invalid unicode code point")
	}
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return object{}, jsonInvalid(int(se.Offset), syntaxMessage(se))
		}
		return object{}, jsonInvalid(len(body), "EOF while parsing a value")
	}
	if trimmed[0] != '{' {
		it := &item{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from"}
		if echo {
			it.Input = raw
		}
		return object{}, it
	}
	o := object{raw: compact(raw), echo: echo}
	if err := json.Unmarshal(raw, &o.fields); err != nil {
		return object{}, jsonInvalid(0, "invalid JSON")
	}
	return o, nil
}

func compact(raw []byte) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

func jsonInvalid(offset int, msg string) *item {
	return &item{Type: "json_invalid", Loc: []any{"body", offset}, Msg: "JSON decode error",
		Input: json.RawMessage("{}"), Ctx: map[string]string{"error": msg}}
}

// syntaxMessage gives a short parser message without quoting the input, which
// could be part of a secret value.
func syntaxMessage(se *json.SyntaxError) string {
	if strings.Contains(se.Error(), "unexpected end") {
		return "EOF while parsing a value"
	}
	return "invalid JSON syntax"
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// stringRule describes how one string member is validated.
type stringRule struct {
	name     string
	required bool
	nullable bool
	secret   bool // the member is a secret value: never echoed
}

// str extracts a string member. It returns nil for an absent or null member,
// or the item describing why the member is not a valid string.
func (o object) str(rule stringRule) (*string, *item) {
	raw, ok := o.fields[rule.name]
	loc := []any{"body", rule.name}
	if !ok {
		if !rule.required {
			return nil, nil
		}
		it := &item{Type: "missing", Loc: loc, Msg: "Field required"}
		if o.echo {
			it.Input = o.raw
		}
		return nil, it
	}
	if string(raw) == "null" && rule.nullable {
		return nil, nil
	}
	if raw[0] != '"' {
		it := &item{Type: "string_type", Loc: loc, Msg: "Input should be a valid string"}
		if !rule.secret {
			it.Input = compact(raw)
		}
		return nil, it
	}
	if hasLoneSurrogate(raw) {
		return nil, &item{Type: "string_unicode", Loc: loc,
			Msg: "Input should be a valid string, unable to parse raw data as a unicode string"}
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, &item{Type: "string_type", Loc: loc, Msg: "Input should be a valid string"}
	}
	return &v, nil
}

// hasLoneSurrogate reports whether a raw JSON string literal contains a
// \uD800–\uDFFF escape that is not part of a valid surrogate pair.
func hasLoneSurrogate(raw []byte) bool {
	pendingHigh := false
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			if pendingHigh {
				return true
			}
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' || i+4 >= len(raw) {
			if pendingHigh {
				return true
			}
			continue
		}
		v, err := strconv.ParseUint(string(raw[i+1:i+5]), 16, 16)
		i += 4
		if err != nil {
			continue
		}
		switch {
		case v >= 0xD800 && v <= 0xDBFF:
			if pendingHigh {
				return true
			}
			pendingHigh = true
		case v >= 0xDC00 && v <= 0xDFFF:
			if !pendingHigh {
				return true
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return true
			}
		}
	}
	return pendingHigh
}

// description validates an optional description member (docs/api.md §3.4).
func (s *Server) description(o object) (*string, *item) {
	d, it := o.str(stringRule{name: "description", nullable: true})
	if it != nil || d == nil {
		return d, it
	}
	loc := []any{"body", "description"}
	if max := s.limits.MaxDescriptionChars; utf8.RuneCountInString(*d) > max {
		return nil, &item{Type: "string_too_long", Loc: loc, Input: rawString(*d),
			Msg: "String should have at most " + strconv.Itoa(max) + " characters", Ctx: map[string]int{"max_length": max}}
	}
	if strings.ContainsRune(*d, 0) {
		return nil, &item{Type: "value_error", Loc: loc, Input: rawString(*d),
			Msg: "Value error, Description must not contain the NUL character", Ctx: errorCtx}
	}
	return d, nil
}

// value validates a secret value member; items never echo it.
func (s *Server) value(o object, required bool) (*string, *item) {
	v, it := o.str(stringRule{name: "value", required: required, nullable: !required, secret: true})
	if it != nil || v == nil {
		return v, it
	}
	if max := s.limits.MaxValueBytes; len(*v) > max {
		return nil, &item{Type: "string_too_long", Loc: []any{"body", "value"},
			Msg: "String should have at most " + strconv.Itoa(max) + " bytes when UTF-8 encoded", Ctx: map[string]int{"max_length": max}}
	}
	return v, nil
}

var emptyValueItem = item{Type: "value_error", Loc: []any{"body"},
	Msg: "Value error, Secret value cannot be empty", Ctx: errorCtx}

// items collects validation items in field order.
type items []item

func (is *items) add(it *item) {
	if it != nil {
		*is = append(*is, *it)
	}
}

func writeItems(w http.ResponseWriter, is []item) {
	writeJSON(w, http.StatusUnprocessableEntity, detail{is})
}

// queryInt parses an optional positive integer query parameter (the last
// occurrence counts); max 0 means unbounded.
func queryInt(q url.Values, name string, def, max int, is *items) int {
	vs := q[name]
	if len(vs) == 0 {
		return def
	}
	raw := vs[len(vs)-1]
	loc := []any{"query", name}
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	switch {
	case err != nil:
		is.add(&item{Type: "int_parsing", Loc: loc, Input: rawString(raw),
			Msg: "Input should be a valid integer, unable to parse string as an integer"})
	case n <= 0:
		is.add(&item{Type: "greater_than", Loc: loc, Input: rawString(raw),
			Msg: "Input should be greater than 0", Ctx: map[string]int{"gt": 0}})
	case max > 0 && n > int64(max):
		is.add(&item{Type: "less_than_equal", Loc: loc, Input: rawString(raw),
			Msg: "Input should be less than or equal to " + strconv.Itoa(max), Ctx: map[string]int{"le": max}})
	default:
		return int(n)
	}
	return def
}
