package main

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

// The secret lifecycle commands: versions and the recycle bin
// (docs/lifecycle.md).

func secretsVersionsCmd(s *clientSettings) *cobra.Command {
	var p pageFlags
	var sort string
	cmd := &cobra.Command{
		Use:   "versions NAME",
		Short: "List a secret's versions, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := s.client()
			fetch := func(page, size int) ([]client.Version, client.Pagination, []byte, error) {
				res, err := c.ListVersions(cmd.Context(), s.workspace, args[0], page, size, sort)
				if err != nil {
					return nil, client.Pagination{}, nil, err
				}
				return res.Data, res.Pagination, res.Raw, nil
			}
			return listPages(cmd, s.format, p, fetch, versionRaw, versionTable)
		},
	}
	p.register(cmd)
	cmd.Flags().StringVar(&sort, "sort", "", "sort by `ORDER`: version or created_at (the same order); prefix '-' for descending (default -created_at)")
	return cmd
}

func secretsRestoreCmd(s *clientSettings) *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "restore NAME --version N [--if-match ETAG]",
		Short: "Make a copy of version N the secret's new current version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(version, "--version")
			if err != nil {
				return err
			}
			secret, err := s.client().RestoreVersion(cmd.Context(), s.workspace, args[0], v, ifMatch(cmd)...)
			if err != nil {
				return failed(err)
			}
			return renderSecret(cmd, s, secret)
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "the version `N` to restore (see secrets versions)")
	cmd.MarkFlagRequired("version")
	addIfMatchFlag(cmd)
	return cmd
}

func secretsDestroyVersionCmd(s *clientSettings) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "destroy-version NAME N [--yes] [--if-match ETAG]",
		Short: "Erase the value of version N for good (not the current version)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(args[1], "N")
			if err != nil {
				return err
			}
			what := fmt.Sprintf("destroy version %d of secret %s/%s", v, s.workspace, args[0])
			if err := confirm(cmd, yes, what); err != nil {
				return err
			}
			if err := s.client().DestroyVersion(cmd.Context(), s.workspace, args[0], v, ifMatch(cmd)...); err != nil {
				return failed(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "✓ Destroyed version %d\n", v)
			return nil
		},
	}
	addYesFlag(cmd, &yes)
	addIfMatchFlag(cmd)
	return cmd
}

func secretsDeletedCmd(s *clientSettings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deleted",
		Short: "The recycle bin: deleted secrets that can still be restored",
	}
	cmd.AddCommand(deletedListCmd(s), deletedRestoreCmd(s), deletedPurgeCmd(s))
	return cmd
}

func deletedListCmd(s *clientSettings) *cobra.Command {
	var p pageFlags
	var q listQuery
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's deleted secrets, most recently deleted first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := s.client()
			fetch := func(page, size int) ([]client.DeletedSecret, client.Pagination, []byte, error) {
				res, err := c.ListDeleted(cmd.Context(), s.workspace, q.options(page, size))
				if err != nil {
					return nil, client.Pagination{}, nil, err
				}
				return res.Data, res.Pagination, res.Raw, nil
			}
			return listPages(cmd, s.format, p, fetch, deletedRaw, deletedTable)
		},
	}
	p.register(cmd)
	q.register(cmd, "deleted_at, name, created_at or updated_at", "-deleted_at")
	return cmd
}

func deletedRestoreCmd(s *clientSettings) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "restore ID [--name NEW]",
		Short: "Bring a deleted secret back with all its versions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("name") && name == "" {
				return usageError("--name must not be empty; leave it out to restore under the old name")
			}
			secret, err := s.client().RestoreDeleted(cmd.Context(), s.workspace, args[0], name)
			if err != nil {
				return failed(err)
			}
			return renderSecret(cmd, s, secret)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "restore as `NEW` instead of the old name (e.g. when the old name is taken again)")
	return cmd
}

func deletedPurgeCmd(s *clientSettings) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "purge ID [--yes]",
		Short: "Erase a deleted secret and all its versions for good",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			what := fmt.Sprintf("erase deleted secret %s from workspace %s", args[0], s.workspace)
			if err := confirm(cmd, yes, what); err != nil {
				return err
			}
			if err := s.client().PurgeDeleted(cmd.Context(), s.workspace, args[0]); err != nil {
				return failed(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "✓ Purged successfully")
			return nil
		},
	}
	addYesFlag(cmd, &yes)
	return cmd
}

func versionRaw(v client.Version) json.RawMessage { return v.Raw }

func versionTable(items []client.Version) table {
	t := table{header: []string{"version", "state", "created_at", "created_by"}}
	for _, v := range items {
		t.rows = append(t.rows, []string{strconv.FormatInt(v.Version, 10), v.State, timeCell(&v.CreatedAt), strCell(v.CreatedBy)})
	}
	return t
}

func deletedRaw(d client.DeletedSecret) json.RawMessage { return d.Raw }

func deletedTable(items []client.DeletedSecret) table {
	t := table{header: []string{"id", "name", "current_version", "deleted_at", "purge_at", "deleted_by"}}
	for _, d := range items {
		t.rows = append(t.rows, []string{d.ID, d.Name, strconv.FormatInt(d.CurrentVersion, 10),
			timeCell(&d.DeletedAt), timeCell(&d.PurgeAt), strCell(d.DeletedBy)})
	}
	return t
}
