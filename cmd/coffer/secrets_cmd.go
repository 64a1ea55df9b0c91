package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

// defaultAllPagesSize is the page size --all-pages uses without --page-size.
const defaultAllPagesSize = 100

const morePagesHint = "More pages of results are available! Use --all-pages to fetch all results."

func newSecretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage secrets in a workspace",
	}
	s := addClientFlags(cmd, true)
	cmd.AddCommand(
		secretsCreateCmd(s), secretsGetCmd(s), secretsListCmd(s), secretsUpdateCmd(s),
		secretsDeleteCmd(s), secretsAccessCmd(s), secretsAdminCmd(s),
		secretsVersionsCmd(s), secretsRestoreCmd(s), secretsDestroyVersionCmd(s), secretsDeletedCmd(s),
		secretsExportCmd(s), secretsImportEnvCmd(s),
	)
	return cmd
}

func secretsCreateCmd(s *clientSettings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create NAME (--value V | --from-file PATH|-) [--description D]",
		Short: "Create a secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := secretValue(cmd.Flags(), cmd.InOrStdin(), true)
			if err != nil {
				return err
			}
			in := client.SecretCreate{Name: args[0], Value: *value, Description: optionalString(cmd, "description")}
			secret, err := s.client().CreateSecret(cmd.Context(), s.workspace, in)
			if err != nil {
				return failed(err)
			}
			return renderSecret(cmd, s, secret)
		},
	}
	addValueFlags(cmd)
	return cmd
}

func secretsGetCmd(s *clientSettings) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a secret's metadata",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			secret, err := s.client().GetSecret(cmd.Context(), s.workspace, args[0])
			if err != nil {
				return failed(err)
			}
			return renderSecret(cmd, s, secret)
		},
	}
}

func secretsListCmd(s *clientSettings) *cobra.Command {
	var p pageFlags
	var q listQuery
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the secrets of a workspace, newest first unless --sort says otherwise",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := s.client()
			fetch := func(page, size int) ([]client.Secret, client.Pagination, []byte, error) {
				res, err := c.ListSecretsWith(cmd.Context(), s.workspace, q.options(page, size))
				if err != nil {
					return nil, client.Pagination{}, nil, err
				}
				return res.Data, res.Pagination, res.Raw, nil
			}
			return listPages(cmd, s.format, p, fetch, secretRaw, secretListTable)
		},
	}
	p.register(cmd)
	q.register(cmd, "name, created_at or updated_at", "-created_at")
	return cmd
}

func secretsUpdateCmd(s *clientSettings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update NAME [--value V | --from-file PATH|-] [--description D] [--if-match ETAG]",
		Short: "Change a secret's value or description",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := secretValue(cmd.Flags(), cmd.InOrStdin(), false)
			if err != nil {
				return err
			}
			upd := client.SecretUpdate{Value: value, Description: optionalString(cmd, "description")}
			secret, err := s.client().UpdateSecretWith(cmd.Context(), s.workspace, args[0], upd, ifMatch(cmd)...)
			if err != nil {
				return failed(err)
			}
			return renderSecret(cmd, s, secret)
		},
	}
	addValueFlags(cmd)
	addIfMatchFlag(cmd)
	return cmd
}

func secretsDeleteCmd(s *clientSettings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME [--if-match ETAG]",
		Short: "Delete a secret (a Coffer server keeps it in the recycle bin for a while)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.client().DeleteSecretWith(cmd.Context(), s.workspace, args[0], ifMatch(cmd)...); err != nil {
				return failed(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "✓ Deleted successfully")
			return nil
		},
	}
	addIfMatchFlag(cmd)
	return cmd
}

func secretsAccessCmd(s *clientSettings) *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "access NAME [--version N]",
		Short: "Print a secret's value (of the current version unless --version)",
		Long: "Print a secret's value (of the current version unless --version) and nothing else, " +
			"followed by a newline only when stdout is a terminal, so that $(coffer secrets access NAME) " +
			"and coffer secrets access NAME > file keep the value exactly. " +
			"-f table shows name, workspace and value; -f json and -f yaml the server's answer.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n int64
			if cmd.Flags().Changed("version") {
				var err error
				if n, err = versionArg(version, "--version"); err != nil {
					return err
				}
			}
			v, err := s.client().AccessSecretVersion(cmd.Context(), s.workspace, args[0], n)
			if err != nil {
				return failed(err)
			}
			if !cmd.Flags().Changed("output-format") {
				return printValue(cmd.OutOrStdout(), v.Value)
			}
			tbl := table{header: []string{"name", "workspace", "value"}, rows: [][]string{{v.Name, v.Workspace, v.Value}}}
			return render(cmd.OutOrStdout(), s.format, v.Raw, tbl)
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "read version `N` instead of the current one (see secrets versions)")
	return cmd
}

func secretsAdminCmd(s *clientSettings) *cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Administrative operations"}
	rotate := &cobra.Command{
		Use:   "rotate-encryption-keys",
		Short: "Re-encrypt every secret, in every workspace, under the current key provider",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("workspace") {
				return usageError("rotate-encryption-keys re-encrypts every workspace; --workspace does not apply")
			}
			c := s.client()
			res, err := rotateWithProgress(cmd, c)
			if err != nil {
				return failed(err)
			}
			if err := render(cmd.OutOrStdout(), s.format, res.Raw, rotationTables(res)...); err != nil {
				return err
			}
			if err := printLeft(cmd, s.format, c); err != nil {
				return err
			}
			if !res.Success {
				return &exitError{code: 1} // the output already lists the failures
			}
			return nil
		},
	}
	withoutInheritedFlagInHelp(rotate, "workspace")
	admin.AddCommand(rotate, encryptionStatusCmd(s))
	return admin
}

func encryptionStatusCmd(s *clientSettings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "encryption-status",
		Short: "Show how stored values are encrypted and how many a rotation would re-encrypt",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("workspace") {
				return usageError("encryption-status counts every workspace; --workspace does not apply")
			}
			st, err := s.client().EncryptionStatus(cmd.Context())
			if err != nil {
				return failed(err)
			}
			return render(cmd.OutOrStdout(), s.format, st.Raw, encryptionStatusTables(st)...)
		},
	}
	withoutInheritedFlagInHelp(cmd, "workspace")
	return cmd
}

// printLeft follows a rotation's result with what is left to rotate: the
// status tables in the table format (stdout stays one JSON or YAML document
// otherwise), and one line on stderr. A server without the status route
// (the reference service) or a failed read leaves only the result.
func printLeft(cmd *cobra.Command, format outputFormat, c *client.Client) error {
	st, err := c.EncryptionStatus(cmd.Context())
	if err != nil {
		return nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "left to rotate: %d of %d stored versions (%d unreadable)\n",
		st.VersionsToRotate, st.TotalVersions, st.UnreadableVersions)
	if format != formatTable {
		return nil
	}
	if _, err := io.WriteString(cmd.OutOrStdout(), "\n"); err != nil {
		return err
	}
	return render(cmd.OutOrStdout(), format, st.Raw, encryptionStatusTables(st)...)
}

// encryptionStatusTables is the summary and, when anything is stored, a row
// per provider and format with its state.
func encryptionStatusTables(st *client.EncryptionStatus) []table {
	names := make([]string, len(st.Providers))
	for i, p := range st.Providers {
		names[i] = providerCell(p)
	}
	summary := table{
		header: []string{"current_provider", "configured_providers", "total_versions", "versions_to_rotate", "unreadable_versions"},
		rows: [][]string{{providerCell(st.CurrentProvider), strings.Join(names, ","), fmt.Sprint(st.TotalVersions),
			fmt.Sprint(st.VersionsToRotate), fmt.Sprint(st.UnreadableVersions)}},
	}
	if len(st.Records) == 0 {
		return []table{summary}
	}
	rows := table{header: []string{"provider", "format", "current_versions", "kept_versions", "recycle_bin_versions", "total_versions", "state"}}
	for _, r := range st.Records {
		rows.rows = append(rows.rows, []string{providerCell(r.Provider), fmt.Sprint(r.Format), fmt.Sprint(r.CurrentVersions),
			fmt.Sprint(r.KeptVersions), fmt.Sprint(r.RecycleBinVersions), fmt.Sprint(r.TotalVersions), recordState(r)})
	}
	return []table{summary, rows}
}

// providerCell names the development key, whose provider name is empty.
func providerCell(p string) string {
	if p == "" {
		return "(development key)"
	}
	return p
}

func recordState(r client.EncryptionStatusRecord) string {
	switch {
	case !r.ProviderConfigured:
		return "not configured"
	case r.UpToDate:
		return "up to date"
	}
	return "to rotate"
}

// withoutInheritedFlagInHelp leaves an inherited flag that does not apply to
// cmd out of its help; the flag stays shared with the sibling commands.
func withoutInheritedFlagInHelp(cmd *cobra.Command, name string) {
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		if f := c.InheritedFlags().Lookup(name); f != nil {
			f.Hidden = true
			defer func() { f.Hidden = false }()
		}
		c.Parent().HelpFunc()(c, args)
	})
}

// printValue writes a secret value alone; a newline follows only on a
// terminal, where the prompt would otherwise start on the value's line.
func printValue(w io.Writer, value string) error {
	if _, err := io.WriteString(w, value); err != nil {
		return err
	}
	if isTerminalWriter(w) {
		_, err := io.WriteString(w, "\n")
		return err
	}
	return nil
}

func addValueFlags(cmd *cobra.Command) {
	cmd.Flags().String("value", "", "the secret value (visible in the process list; prefer --from-file)")
	cmd.Flags().String("from-file", "", "read the value from a file, or from stdin with '-'")
	cmd.Flags().String("description", "", "a description")
}

// optionalString is nil unless the flag was given, so that an unset
// --description is not sent while --description "" is.
func optionalString(cmd *cobra.Command, name string) *string {
	if !cmd.Flags().Changed(name) {
		return nil
	}
	v, _ := cmd.Flags().GetString(name)
	return &v
}

func secretRaw(s client.Secret) json.RawMessage { return s.Raw }

// secretTable is one secret's metadata; current_version and etag are empty
// when a server without versions sends none.
func secretTable(s *client.Secret) table {
	return table{
		header: []string{"name", "workspace", "description", "created_at", "updated_at", "current_version", "etag"},
		rows: [][]string{{s.Name, s.Workspace, strCell(s.Description), timeCell(s.CreatedAt), timeCell(s.UpdatedAt),
			int64Cell(s.CurrentVersion), s.ETag}},
	}
}

func secretListTable(items []client.Secret) table {
	t := table{header: []string{"name", "workspace", "created_at"}}
	for _, s := range items {
		t.rows = append(t.rows, []string{s.Name, s.Workspace, timeCell(s.CreatedAt)})
	}
	return t
}

// rotationTables is the summary and, when some secrets failed, the failures.
// A failure's version is empty from servers without versions.
func rotationTables(r *client.RotationResult) []table {
	summary := table{
		header: []string{"rotated_secrets", "skipped_secrets", "failed_count", "success", "rotated_versions", "deleted_secrets_rotated"},
		rows: [][]string{{fmt.Sprint(r.RotatedSecrets), fmt.Sprint(r.SkippedSecrets), fmt.Sprint(r.FailedCount), fmt.Sprint(r.Success),
			fmt.Sprint(r.RotatedVersions), fmt.Sprint(r.DeletedSecretsRotated)}},
	}
	if len(r.FailedSecrets) == 0 {
		return []table{summary}
	}
	failures := table{header: []string{"workspace", "name", "version", "error"}}
	for _, f := range r.FailedSecrets {
		version := ""
		if f.Version != 0 {
			version = fmt.Sprint(f.Version)
		}
		failures.rows = append(failures.rows, []string{f.Workspace, f.Name, version, f.Error})
	}
	return []table{summary, failures}
}

// rotateWithProgress sends the rotation request, which answers only when
// every secret is done: on a terminal a line shows the time it has taken so
// far, and a summary line on stderr ends it in any case.
func rotateWithProgress(cmd *cobra.Command, c *client.Client) (*client.RotationResult, error) {
	p := newProgress(cmd.ErrOrStderr(), "rotating encryption keys", 0, nil)
	res, err := c.RotateEncryptionKeys(cmd.Context())
	p.finish()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "rotation: %d secrets rotated (%d versions, %d in the recycle bin), %d skipped, %d failed in %s\n",
		res.RotatedSecrets, res.RotatedVersions, res.DeletedSecretsRotated, res.SkippedSecrets, res.FailedCount, p.elapsed())
	return res, nil
}
