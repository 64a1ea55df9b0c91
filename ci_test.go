// Package coffer_test holds checks that span the whole repository and its
// CI scripts rather than one package.
package coffer_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fuzzTarget is the line in .ci/fuzz's targets list for one fuzz test:
// `"./internal/auth FuzzVerifyToken"`.
var fuzzTarget = regexp.MustCompile(`(?m)^\s*"(\./\S+) (Fuzz\w*)"\s*$`)

// TestEveryFuzzTargetRunsInCI: CI fuzzes only the targets .ci/fuzz lists, so
// a fuzz test missing from the list would only ever replay its corpus, and a
// listed one that was renamed or removed would make `go test -fuzz` match
// nothing and pass silently. Both lists must be the same.
func TestEveryFuzzTargetRunsInCI(t *testing.T) {
	script, err := os.ReadFile(".ci/fuzz")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range fuzzTarget.FindAllStringSubmatch(string(script), -1) {
		listed = append(listed, m[1]+" "+m[2])
	}
	if len(listed) == 0 {
		t.Fatal(".ci/fuzz lists no targets in the form \"./pkg FuzzName\"")
	}
	defined := fuzzTests(t)
	for _, d := range defined {
		if !slices.Contains(listed, d) {
			t.Errorf("fuzz test %q is not in .ci/fuzz's targets: CI never fuzzes it", d)
		}
	}
	for _, l := range listed {
		if !slices.Contains(defined, l) {
			t.Errorf(".ci/fuzz lists %q, which no _test.go file defines", l)
		}
	}
}

// fuzzTests returns "./dir FuzzName" for every fuzz test of the main module
// (nested modules under deploy/ are not fuzzed).
func fuzzTests(t *testing.T) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || isModule(path)) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && isFuzzTest(fn) {
				out = append(out, "./"+filepath.ToSlash(filepath.Dir(path))+" "+fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("found no fuzz tests at all: the walk is broken")
	}
	return out
}

// isModule reports whether dir is the root of a nested Go module.
func isModule(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil
}

// isFuzzTest reports whether fn is what `go test -fuzz` runs: a top-level
// FuzzXxx function taking *testing.F.
func isFuzzTest(fn *ast.FuncDecl) bool {
	if fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Fuzz") || len(fn.Type.Params.List) != 1 {
		return false
	}
	star, ok := fn.Type.Params.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "F"
}
