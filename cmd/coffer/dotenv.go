package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Dotenv files (docs/cli.md, "Dotenv files"): `KEY=VALUE` lines, blank
// lines and `# comments`, an optional `export ` in front of a key. A value is
// a run of unquoted text (up to the end of the line or a ` #` comment),
// 'single-quoted' text (literal, newlines included) and "double-quoted" text
// (with the escapes \\ \" \$ \` \n \r \t), which may follow each other as in
// a shell word; outside quotes a backslash makes the next character
// literal. Coffer writes every value as one POSIX single-quoted word (a ' as
// '\''), so a file it wrote is also loaded exactly by `set -a; . ./file;
// set +a`.

// envEntry is one KEY=VALUE of a dotenv file; line is where it starts.
type envEntry struct {
	key, value string
	line       int
}

// String keeps the value out of %v output (test failures, logs).
func (e envEntry) String() string { return fmt.Sprintf("%s (line %d)", e.key, e.line) }

// errDotenv is a syntax error; its text names a line and never quotes the
// file's content, which holds secret values.
type errDotenv struct {
	line int
	msg  string
}

func (e *errDotenv) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// parseDotenv reads every entry of a dotenv file, in order.
func parseDotenv(text string) ([]envEntry, error) {
	p := &dotenvParser{s: text, line: 1}
	var out []envEntry
	for {
		p.skipBlankAndComments()
		if p.i >= len(p.s) {
			return out, nil
		}
		e, err := p.entry()
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

type dotenvParser struct {
	s    string
	i    int
	line int
}

func (p *dotenvParser) fail(msg string) error { return &errDotenv{line: p.line, msg: msg} }

func (p *dotenvParser) skipBlankAndComments() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '\n':
			p.line++
			p.i++
		case c == ' ' || c == '\t' || c == '\r':
			p.i++
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

func (p *dotenvParser) entry() (envEntry, error) {
	start := p.line
	if rest := p.s[p.i:]; strings.HasPrefix(rest, "export ") || strings.HasPrefix(rest, "export\t") {
		p.i += len("export")
		for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
			p.i++
		}
	}
	k := p.i
	for p.i < len(p.s) && p.s[p.i] != '=' && p.s[p.i] != '\n' {
		p.i++
	}
	key := strings.TrimRight(p.s[k:p.i], " \t")
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return envEntry{}, p.fail("expected KEY=VALUE")
	}
	if !validEnvKey(key) {
		return envEntry{}, p.fail("a key is letters, digits and '_', not starting with a digit")
	}
	p.i++ // '='
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
	value, err := p.value()
	if err != nil {
		return envEntry{}, err
	}
	return envEntry{key: key, value: value, line: start}, nil
}

// value reads quoted and unquoted parts up to the end of the line.
func (p *dotenvParser) value() (string, error) {
	var b strings.Builder
	for p.i < len(p.s) {
		switch c := p.s[p.i]; c {
		case '\n':
			return trimUnquoted(b.String()), nil
		case '\'':
			end := strings.IndexByte(p.s[p.i+1:], '\'')
			if end < 0 {
				return "", p.fail("a single quote is not closed")
			}
			part := p.s[p.i+1 : p.i+1+end]
			b.WriteString(part)
			p.line += strings.Count(part, "\n")
			p.i += end + 2
			b.WriteString(quotedMark) // keeps trailing spaces of quoted text
		case '"':
			if err := p.doubleQuoted(&b); err != nil {
				return "", err
			}
			b.WriteString(quotedMark)
		case '\\': // outside quotes a backslash quotes the next character, as in sh
			if p.i+1 < len(p.s) && p.s[p.i+1] != '\n' {
				b.WriteByte(p.s[p.i+1])
				b.WriteString(quotedMark)
			} else if p.i+1 < len(p.s) {
				p.line++
			}
			p.i += 2
		case '#':
			if p.i > 0 && (p.s[p.i-1] == ' ' || p.s[p.i-1] == '\t') {
				for p.i < len(p.s) && p.s[p.i] != '\n' {
					p.i++
				}
				continue
			}
			b.WriteByte(c)
			p.i++
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return trimUnquoted(b.String()), nil
}

// quotedMark separates quoted text from unquoted text while a value is
// assembled: unquoted text loses its surrounding blanks, quoted text never.
// It is a NUL, which a dotenv value cannot carry (environment strings end
// at NUL).
const quotedMark = "\x00"

func trimUnquoted(v string) string {
	if !strings.Contains(v, quotedMark) {
		return strings.TrimRight(v, " \t\r")
	}
	last := strings.LastIndex(v, quotedMark)
	return strings.ReplaceAll(v[:last]+strings.TrimRight(v[last:], " \t\r"), quotedMark, "")
}

func (p *dotenvParser) doubleQuoted(b *strings.Builder) error {
	p.i++ // opening quote
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return nil
		case '\\':
			if p.i+1 >= len(p.s) {
				return p.fail("a double quote is not closed")
			}
			switch n := p.s[p.i+1]; n {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\', '"', '$', '`':
				b.WriteByte(n)
			case '\n': // a line continuation, as in sh
				p.line++
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			p.i += 2
			continue
		case '\n':
			p.line++
		}
		b.WriteByte(c)
		p.i++
	}
	return p.fail("a double quote is not closed")
}

// validEnvKey is the shell's rule for variable names.
func validEnvKey(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, r := range k {
		if r != '_' && (r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// errNUL is returned for a value dotenv cannot carry.
var errNUL = errors.New("the value contains a NUL character, which an environment variable cannot hold")

// formatDotenvValue writes v as one POSIX single-quoted word.
func formatDotenvValue(v string) (string, error) {
	if strings.ContainsRune(v, 0) {
		return "", errNUL
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'", nil
}

// envKeyOf is the dotenv key of a secret name: upper case, '-' and '.' as
// '_' (hf-token -> HF_TOKEN).
func envKeyOf(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' {
			return '_'
		}
		return unicode.ToUpper(r)
	}, name)
}

// secretNameOf is the secret name import-env derives from a key: lower
// case, '_' as '-' (HF_TOKEN -> hf-token).
func secretNameOf(key string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' {
			return '-'
		}
		return unicode.ToLower(r)
	}, key)
}
