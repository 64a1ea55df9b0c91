package envvar

import (
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

type settings struct {
	On   bool
	N    int
	S    string
	List StringList
}

var vars = []Var[settings]{
	{"ON", Bool(func(s *settings) *bool { return &s.On })},
	{"N", Int(func(s *settings) *int { return &s.N })},
	{"S", String(func(s *settings) *string { return &s.S })},
	{"L", List(func(s *settings) *StringList { return &s.List })},
}

func TestApply(t *testing.T) {
	env := map[string]string{"ON": "Yes", "N": " 7 ", "S": "", "L": `["a","b"]`}
	s := settings{S: "from file"}
	if err := Apply(&s, vars, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if !s.On || s.N != 7 || s.S != "" || !slices.Equal(s.List, StringList{"a", "b"}) {
		t.Errorf("settings %+v (an empty variable must still override)", s)
	}
	env = map[string]string{"N": "seven"}
	if err := Apply(&s, vars, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil || err.Error() != "environment variable N: not an integer" {
		t.Errorf("error %v", err)
	}
}

func TestParsing(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "ON": true, "no": false, "Off": false, "0": false} {
		if got, err := ParseBool(v); err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", v, got, err)
		}
	}
	if _, err := ParseBool("maybe"); err == nil {
		t.Error("maybe accepted")
	}
	if got := ParseList(" a, ,b ,"); !slices.Equal(got, StringList{"a", "b"}) {
		t.Errorf("ParseList = %q", got)
	}
	var doc struct{ A, B, C StringList }
	if err := yaml.Unmarshal([]byte("a: x, y\nb: [p, q]\nc: null\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(doc.A, StringList{"x", "y"}) || !slices.Equal(doc.B, StringList{"p", "q"}) || doc.C != nil {
		t.Errorf("yaml %+v", doc)
	}
}
