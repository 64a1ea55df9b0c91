package migration

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_two.sql": {Data: []byte("B")},
		"m/0001_one.sql": {Data: []byte("A")},
		"m/readme.txt":   {Data: []byte("ignored")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0] != (Migration{1, "A"}) || ms[1] != (Migration{2, "B"}) {
		t.Errorf("migrations %+v", ms)
	}
	for name, bad := range map[string]fstest.MapFS{
		"no number": {"m/init.sql": {}},
		"duplicate": {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
	} {
		if _, err := Load(bad, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
