package openapi_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// citation matches a document named in a comment, with an optional
// directory, section number (§4.2) or quoted heading ("Read cache").
var citation = regexp.MustCompile(`((?:[\w.-]+/)*)\b([A-Za-z][\w-]*\.md)\b(?:\s*§\s*(\d+(?:\.\d+)*))?(?:\s+"([^"]+)")?`)

// TestCommentsCiteDocsInTheRepository: a code comment may send a reader to a
// document only if a clone has it. A citation of a section number needs a
// heading with that number in the document, a quoted heading needs that
// heading; a document named without its directory (as citations of the
// working brief were) or a path outside the repository fails.
func TestCommentsCiteDocsInTheRepository(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string][]string{} // document -> its heading lines
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, group := range f.Comments {
			for _, c := range group.List {
				for _, m := range citation.FindAllStringSubmatch(c.Text, -1) {
					pos := fset.Position(c.Pos())
					if msg := checkCitation(root, headings, m[1], m[2], m[3], m[4]); msg != "" {
						t.Errorf("%s:%d: %q %s", rel, pos.Line, strings.TrimSpace(m[0]), msg)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkCitation returns why a citation cannot be followed ("" if it can).
func checkCitation(root string, headings map[string][]string, dir, doc, section, heading string) string {
	path := dir + doc
	if dir == "" && doc != "README.md" {
		return "names no directory: cite docs/" + doc + " (or the OpenAPI document)"
	}
	if strings.HasPrefix(dir, "../") || filepath.IsAbs(path) {
		return "is outside the repository"
	}
	hs, ok := headings[path]
	if !ok {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			return "names a file the repository does not have"
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "#") {
				hs = append(hs, strings.TrimSpace(strings.TrimLeft(line, "#")))
			}
		}
		headings[path] = hs
	}
	for _, h := range hs {
		switch {
		case section != "" && (strings.HasPrefix(h, section+" ") || strings.HasPrefix(h, section+". ")):
			return ""
		case section == "" && heading != "" && strings.HasPrefix(h, heading):
			return ""
		}
	}
	switch {
	case section != "":
		return "cites §" + section + ", which " + path + " has no heading for"
	case heading != "":
		return "cites a heading " + path + " does not have"
	}
	return ""
}
