package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

// Flags and output shared by the lifecycle commands (docs/lifecycle.md).

// confirm asks before an action that cannot be undone. --yes skips the
// question; without it stdin must be a terminal, so that a script which
// forgot --yes stops instead of destroying something nobody confirmed.
// what completes "Permanently ...", e.g. "destroy version 2 of secret w/k".
func confirm(cmd *cobra.Command, yes bool, what string) error {
	if yes {
		return nil
	}
	in := cmd.InOrStdin()
	if !isTerminal(in) {
		return usageError("Refusing to permanently " + what + " without confirmation: stdin is not a terminal. Pass --yes to confirm.")
	}
	if !confirmed(in, cmd.ErrOrStderr(), "Permanently "+what+"? This cannot be undone. [y/N] ") {
		return &exitError{code: 1, msg: "Aborted: nothing was changed."}
	}
	return nil
}

// confirmed prints question on out and reports whether the answer read
// from in is y or yes; anything else, end of input included, is no.
func confirmed(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprint(out, question)
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil {
		fmt.Fprintln(out) // the abort message must not continue the prompt's line
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true
	}
	return false
}

// addYesFlag registers --yes on a destructive command.
func addYesFlag(cmd *cobra.Command, yes *bool) {
	cmd.Flags().BoolVarP(yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
}

// addIfMatchFlag registers --if-match; ifMatch turns it into call options.
func addIfMatchFlag(cmd *cobra.Command) {
	cmd.Flags().String("if-match", "", "change nothing unless the secret's etag (see get) is still `ETAG`; '*' only requires that the secret exists")
}

// ifMatch is the If-Match option of --if-match, or none without the flag.
func ifMatch(cmd *cobra.Command) []client.CallOption {
	if !cmd.Flags().Changed("if-match") {
		return nil
	}
	etag, _ := cmd.Flags().GetString("if-match")
	return []client.CallOption{client.IfMatch(etag)}
}

// listQuery holds the sort, filter and search flags of the list commands.
type listQuery struct {
	sort, filterName, search string
}

// register adds the flags; fields are the sort fields, def the default sort.
func (q *listQuery) register(cmd *cobra.Command, fields, def string) {
	cmd.Flags().StringVar(&q.sort, "sort", "", "sort by `ORDER`: "+fields+"; prefix '-' for descending (default "+def+")")
	cmd.Flags().StringVar(&q.filterName, "filter-name", "",
		"only names matching this SQL LIKE `PATTERN`: % matches any run of characters, _ one character, \\ escapes; case ignored (e.g. 'prod-%')")
	cmd.Flags().StringVar(&q.search, "search", "", "only secrets whose name or description contains `TEXT`, case ignored")
}

func (q *listQuery) options(page, size int) client.ListOptions {
	return client.ListOptions{Page: page, PageSize: size, Sort: q.sort, Search: q.search,
		Filter: client.Filter{NameLike: q.filterName}}
}

// versionArg parses a version number given as an argument or a flag value;
// what names it in the message.
func versionArg(raw, what string) (int64, error) {
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < 1 {
		return 0, usageError(what + " must be a version number (an integer of at least 1), not " + strconv.Quote(raw))
	}
	return v, nil
}

// renderSecret prints one secret's metadata: the table, or the body with
// the entity tag added (see secretBody).
func renderSecret(cmd *cobra.Command, s *clientSettings, secret *client.Secret) error {
	return render(cmd.OutOrStdout(), s.format, secretBody(secret), secretTable(secret))
}

// secretBody is the metadata body as received plus, when the server sent
// an ETag header, a last member "etag": a script reads it there for
// --if-match, as it cannot see the headers. Otherwise it is Raw unchanged.
func secretBody(secret *client.Secret) []byte {
	raw := bytes.TrimRight(secret.Raw, " \t\r\n")
	if secret.ETag == "" || len(raw) < 2 || raw[len(raw)-1] != '}' {
		return secret.Raw
	}
	tag, _ := json.Marshal(secret.ETag) // a string always encodes
	head := raw[:len(raw)-1]
	b := append([]byte{}, head...)
	if trimmed := bytes.TrimRight(head, " \t\r\n"); trimmed[len(trimmed)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, `"etag":`...)
	b = append(b, tag...)
	return append(b, '}')
}
