package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

// Messages of the value input rules, byte-exact as the reference CLI
// prints them (docs/cli.md, "Giving a secret value").
const (
	msgBothSources = "Cannot use both --from-file and --value. Choose one."
	msgNoSource    = `Provide secret value via --value or --from-file for secrets create. Example: coffer secrets create my-secret --value "abc123"`
	msgEmptyFile   = "Secret value cannot be empty. Provide non-empty content via --from-file (e.g. a file path or '-' to read from stdin or use --value for inline secret)."
	msgEmptyValue  = "Secret value cannot be empty. Provide non-empty content via --value or --from-file."
	msgNoStdin     = "No input provided on stdin, but required for '--from-file -'"
	// Not in the reference, which fails on undecodable input with a traceback;
	// sending it would silently replace the bytes with U+FFFD.
	msgNotUTF8 = "Secret value must be UTF-8 text."
)

// secretValue reads the value from --value or --from-file (a path, or "-"
// for stdin) and strips surrounding whitespace. It returns nil when neither
// flag is set and the value is optional (update).
func secretValue(flags *pflag.FlagSet, stdin io.Reader, required bool) (*string, error) {
	valueSet, fileSet := flags.Changed("value"), flags.Changed("from-file")
	switch {
	case valueSet && fileSet:
		return nil, usageError(msgBothSources)
	case !valueSet && !fileSet && required:
		return nil, usageError(msgNoSource)
	case !valueSet && !fileSet:
		return nil, nil
	}
	if valueSet {
		v, _ := flags.GetString("value")
		return stripped(v, msgEmptyValue)
	}
	path, _ := flags.GetString("from-file")
	content, err := readValueFile(path, stdin)
	if err != nil {
		return nil, err
	}
	return stripped(string(content), msgEmptyFile)
}

func stripped(v, emptyMsg string) (*string, error) {
	if !utf8.ValidString(v) {
		return nil, usageError(msgNotUTF8)
	}
	v = strings.TrimFunc(v, isPythonSpace)
	if v == "" {
		return nil, usageError(emptyMsg)
	}
	return &v, nil
}

// isPythonSpace matches Python's str.isspace, which the reference CLI
// strips with: Go's unicode.IsSpace plus the four ASCII separators.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func readValueFile(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		if isTerminal(stdin) {
			return nil, usageError(msgNoStdin)
		}
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, usageError("Cannot read stdin: " + err.Error())
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageError("File not found: " + path)
	case errors.Is(err, fs.ErrPermission):
		return nil, usageError("Permission denied reading file: " + path)
	case err != nil:
		return nil, usageError("Cannot read file: " + path + ": " + errors.Unwrap(err).Error())
	}
	return b, nil
}

// isTerminal treats a character device on stdin as an interactive terminal:
// waiting for typed input there would look like a hang.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&fs.ModeCharDevice != 0
}
