package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

// exportFormat is export's -f: dotenv or json.
type exportFormat string

func (f *exportFormat) String() string { return string(*f) }

func (f *exportFormat) Type() string { return "format" }

func (f *exportFormat) Set(v string) error {
	switch strings.ToLower(v) {
	case "dotenv", "json":
		*f = exportFormat(strings.ToLower(v))
		return nil
	}
	return fmt.Errorf("%q is not one of dotenv, json", v)
}

// exportedSecret is one item of `export -f json`.
type exportedSecret struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Value       string  `json:"value"`
}

func secretsExportCmd(s *clientSettings) *cobra.Command {
	format := exportFormat("dotenv")
	var service string
	cmd := &cobra.Command{
		Use:   "export [-f dotenv|json]",
		Short: "Print every secret of the workspace with its value, as a dotenv file or JSON",
		Long: "Print every secret of the workspace with its value: -f dotenv (default) writes KEY='value' lines, " +
			"the key being the name in upper case with '-' and '.' as '_' (hf-token -> HF_TOKEN), the value a POSIX " +
			"single-quoted word that any value survives; -f json writes a list of {name, description, value}. " +
			"Nothing is printed unless every value was read (exit status 1). Values are read through /access, " +
			"so with authentication on the caller needs a service identity: --service NAME, from a trusted network.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if service != "" {
				s.headers = map[string]string{"X-NMP-Principal-Id": "service:" + service}
			}
			items, err := exportSecrets(cmd.Context(), s.client(), s.workspace)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				b, err := json.MarshalIndent(items, "", "  ")
				if err != nil {
					return err
				}
				_, err = out.Write(append(b, '\n'))
				return err
			}
			return writeDotenv(out, s.workspace, items)
		},
	}
	// A local -f shadows the group's table|json|yaml one.
	cmd.Flags().VarP(&format, "output-format", "f", "dotenv or json")
	cmd.Flags().StringVar(&service, "service", "", "read as the platform service `NAME` (X-NMP-Principal-Id: service:NAME; counts only from coffer.auth.trusted_header_networks)")
	return cmd
}

// exportSecrets reads every secret of workspace and its current value,
// sorted by name. Any failure is exit status 1 and returns nothing, so that
// a backup is never silently partial.
func exportSecrets(ctx context.Context, c *client.Client, workspace string) ([]exportedSecret, error) {
	var items []exportedSecret
	for page := 1; ; page++ {
		res, err := c.ListSecretsWith(ctx, workspace, client.ListOptions{Page: page, PageSize: defaultAllPagesSize, Sort: "name"})
		if err != nil {
			return nil, failed(err)
		}
		for _, sec := range res.Data {
			v, err := c.AccessSecret(ctx, workspace, sec.Name)
			if err != nil {
				msg := fmt.Sprintf("Error: reading %s/%s: %v\nNothing was exported.", workspace, sec.Name, err)
				if apiErr := (*client.APIError)(nil); errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden {
					msg += "\nHint: only platform services read values; from a trusted network, pass --service NAME."
				}
				return nil, &exitError{code: 1, msg: msg}
			}
			items = append(items, exportedSecret{Name: sec.Name, Description: sec.Description, Value: v.Value})
		}
		if len(res.Data) == 0 || page >= res.Pagination.TotalPages {
			break
		}
	}
	slices.SortFunc(items, func(a, b exportedSecret) int { return strings.Compare(a.Name, b.Name) })
	return items, nil
}

// writeDotenv writes items as KEY='value' lines after a comment naming the
// workspace. Two names with one key (a-b and a.b) cannot both be written.
func writeDotenv(w io.Writer, workspace string, items []exportedSecret) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# coffer secrets export: workspace %s, %d secrets\n", workspace, len(items))
	seen := map[string]string{}
	for _, it := range items {
		key := envKeyOf(it.Name)
		if other, ok := seen[key]; ok {
			return &exitError{code: 1, msg: fmt.Sprintf("Error: secrets %s and %s both become %s in a dotenv file; export with -f json.\nNothing was exported.", other, it.Name, key)}
		}
		seen[key] = it.Name
		q, err := formatDotenvValue(it.Value)
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("Error: %s: %v; export with -f json.\nNothing was exported.", it.Name, err)}
		}
		b.WriteString(key + "=" + q + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Outcomes of import-env, in the order of its summary.
const (
	envCreated = iota
	envUpdated
	envSkipped
	envFailed
)

func secretsImportEnvCmd(s *clientSettings) *cobra.Command {
	var update bool
	cmd := &cobra.Command{
		Use:   "import-env FILE|- [--update]",
		Short: "Create (or with --update, update) secrets from a dotenv file",
		Long: "Create a secret for every KEY=VALUE of a dotenv file (- reads stdin). The name is the key in lower case " +
			"with '_' as '-' (HF_TOKEN -> hf-token). A secret that exists is skipped, or given the file's value as a new " +
			"version with --update. Prints one line per key and a summary; exit status 1 if any key failed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := readEnvInput(args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			entries, err := parseDotenv(text)
			if err != nil {
				return usageError(fmt.Sprintf("%s: %v (nothing was imported)", args[0], err))
			}
			return importEnvFile(cmd, s.client(), s.workspace, entries, update)
		},
	}
	cmd.Flags().BoolVar(&update, "update", false, "give existing secrets the file's value (a new version) instead of skipping them")
	return cmd
}

func readEnvInput(path string, stdin io.Reader) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		if isTerminal(stdin) {
			return "", usageError("No input provided on stdin, but required for 'import-env -'")
		}
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", usageError("import-env: " + err.Error())
	}
	return string(b), nil
}

// importEnvFile stores the entries one by one and reports each outcome on
// stdout (failures on stderr), then the counts.
func importEnvFile(cmd *cobra.Command, c *client.Client, workspace string, entries []envEntry, update bool) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	p := newProgress(errOut, "import-env", int64(len(entries)), nil)
	var counts [4]int
	firstLine := map[string]int{}
	for _, e := range entries {
		name := secretNameOf(e.key)
		outcome, detail := importOne(cmd.Context(), c, workspace, name, e.value, update)
		if line, dup := firstLine[name]; dup {
			outcome, detail = envFailed, fmt.Sprintf("line %d already gave %s", line, name)
		} else {
			firstLine[name] = e.line
		}
		counts[outcome]++
		p.clear()
		switch outcome {
		case envFailed:
			fmt.Fprintf(errOut, "failed   %s (%s, line %d): %s\n", name, e.key, e.line, detail)
		default:
			fmt.Fprintf(out, "%-8s %s (%s)%s\n", [...]string{"created", "updated", "skipped"}[outcome], name, e.key, detail)
		}
		p.add(1)
	}
	p.finish()
	fmt.Fprintf(out, "import-env: %d created, %d updated, %d skipped, %d failed in %s\n",
		counts[envCreated], counts[envUpdated], counts[envSkipped], counts[envFailed], p.elapsed())
	if counts[envFailed] > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// importOne creates name, or when it exists updates it (with update) or
// skips it. The detail never holds the value: client errors do not.
func importOne(ctx context.Context, c *client.Client, workspace, name, value string, update bool) (int, string) {
	if !validSecretName(name) {
		return envFailed, "not a valid secret name (" + hintSecretName + ")"
	}
	_, err := c.CreateSecret(ctx, workspace, client.SecretCreate{Name: name, Value: value})
	switch {
	case err == nil:
		return envCreated, ""
	case !errors.Is(err, client.ErrConflict):
		return envFailed, err.Error()
	case !update:
		return envSkipped, ": exists (--update replaces its value)"
	}
	if _, err := c.UpdateSecret(ctx, workspace, name, client.SecretUpdate{Value: &value}); err != nil {
		return envFailed, err.Error()
	}
	return envUpdated, ""
}

// validSecretName is the server's shape rule for secret names (docs/cli.md,
// "Names"), checked here so that a key that cannot become a name fails with
// the rule rather than the server's pattern.
func validSecretName(n string) bool {
	if len(n) < 2 || len(n) > 63 || n[0] < 'a' || n[0] > 'z' || n[len(n)-1] == '-' || strings.Contains(n, "--") {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
