package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

func newWorkspacesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workspaces",
		Short: "Manage workspaces and their members",
	}
	s := addClientFlags(cmd, false)
	cmd.AddCommand(
		workspacesCreateCmd(s), workspacesGetCmd(s), workspacesListCmd(s),
		workspacesUpdateCmd(s), workspacesDeleteCmd(s), membersCmd(s),
	)
	return cmd
}

func workspacesCreateCmd(s *clientSettings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create NAME [--description D]",
		Short: "Create a workspace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := client.WorkspaceCreate{Name: args[0], Description: optionalString(cmd, "description")}
			ws, err := s.client().CreateWorkspace(cmd.Context(), in)
			return printWorkspace(cmd, s, ws, err)
		},
	}
	cmd.Flags().String("description", "", "a description")
	return cmd
}

func workspacesGetCmd(s *clientSettings) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a workspace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := s.client().GetWorkspace(cmd.Context(), args[0])
			return printWorkspace(cmd, s, ws, err)
		},
	}
}

func workspacesListCmd(s *clientSettings) *cobra.Command {
	var p pageFlags
	var sort string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workspaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := s.client()
			fetch := func(page, size int) ([]client.Workspace, client.Pagination, []byte, error) {
				res, err := c.ListWorkspaces(cmd.Context(), page, size, sort)
				if err != nil {
					return nil, client.Pagination{}, nil, err
				}
				return res.Data, res.Pagination, res.Raw, nil
			}
			return listPages(cmd, s.format, p, fetch, workspaceRaw, workspaceListTable)
		},
	}
	p.register(cmd)
	cmd.Flags().StringVar(&sort, "sort", "", "created_at, -created_at, updated_at or -updated_at (default -created_at)")
	return cmd
}

func workspacesUpdateCmd(s *clientSettings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update NAME --description D",
		Short: "Change a workspace's description",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			upd := client.WorkspaceUpdate{Description: optionalString(cmd, "description")}
			ws, err := s.client().UpdateWorkspace(cmd.Context(), args[0], upd)
			return printWorkspace(cmd, s, ws, err)
		},
	}
	cmd.Flags().String("description", "", "the new description")
	return cmd
}

func workspacesDeleteCmd(s *clientSettings) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a workspace with all its secrets and members",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := s.client().DeleteWorkspace(cmd.Context(), args[0])
			if err == nil && s.format == formatTable {
				// The server's message ("marked for deletion") is the
				// reference's wording; the deletion is complete when it answers.
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "✓ Deleted workspace %s with its secrets and members\n", args[0])
				return err
			}
			return printDeleteResult(cmd, s, res, err)
		},
	}
}

func membersCmd(s *clientSettings) *cobra.Command {
	cmd := &cobra.Command{Use: "members", Short: "Manage who holds which role in a workspace"}
	cmd.AddCommand(membersListCmd(s), membersAddCmd(s), membersSetCmd(s), membersRemoveCmd(s))
	return cmd
}

func membersListCmd(s *clientSettings) *cobra.Command {
	return &cobra.Command{
		Use:   "list WS",
		Short: "List the members of a workspace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := s.client().ListMembers(cmd.Context(), args[0])
			if err != nil {
				return failed(err)
			}
			return render(cmd.OutOrStdout(), s.format, list.Raw, memberTable(list.Data...))
		},
	}
}

func membersAddCmd(s *clientSettings) *cobra.Command {
	var roles []string
	cmd := &cobra.Command{
		Use:   "add WS PRINCIPAL [--role R]...",
		Short: "Grant roles to a principal (default Editor)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := client.MemberCreate{Principal: args[1]}
			if cmd.Flags().Changed("role") {
				in.Roles = roles
			}
			m, err := s.client().AddMember(cmd.Context(), args[0], in)
			return printMember(cmd, s, m, err)
		},
	}
	cmd.Flags().StringArrayVar(&roles, "role", nil, "Viewer, Editor, Admin or PlatformAdmin; repeat for several")
	return cmd
}

func membersSetCmd(s *clientSettings) *cobra.Command {
	var roles []string
	cmd := &cobra.Command{
		Use:   "set WS PRINCIPAL --role R...",
		Short: "Make a principal's roles exactly the given ones",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := s.client().SetMember(cmd.Context(), args[0], args[1], roles)
			return printMember(cmd, s, m, err)
		},
	}
	cmd.Flags().StringArrayVar(&roles, "role", nil, "Viewer, Editor, Admin or PlatformAdmin; repeat for several")
	cmd.MarkFlagRequired("role")
	return cmd
}

func membersRemoveCmd(s *clientSettings) *cobra.Command {
	return &cobra.Command{
		Use:   "remove WS PRINCIPAL",
		Short: "Remove all of a principal's roles in a workspace",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := s.client().RemoveMember(cmd.Context(), args[0], args[1])
			return printDeleteResult(cmd, s, res, err)
		},
	}
}

// The print helpers take the call's error too, so each command ends in one
// return.

func printWorkspace(cmd *cobra.Command, s *clientSettings, ws *client.Workspace, err error) error {
	if err != nil {
		return failed(err)
	}
	return render(cmd.OutOrStdout(), s.format, ws.Raw, workspaceTable(ws))
}

func printMember(cmd *cobra.Command, s *clientSettings, m *client.Member, err error) error {
	if err != nil {
		return failed(err)
	}
	return render(cmd.OutOrStdout(), s.format, m.Raw, memberTable(*m))
}

func printDeleteResult(cmd *cobra.Command, s *clientSettings, res *client.DeleteResult, err error) error {
	if err != nil {
		return failed(err)
	}
	tbl := table{
		header: []string{"message", "id", "deleted_count"},
		rows:   [][]string{{res.Message, res.ID, fmt.Sprint(res.DeletedCount)}},
	}
	return render(cmd.OutOrStdout(), s.format, res.Raw, tbl)
}

func workspaceRaw(ws client.Workspace) json.RawMessage { return ws.Raw }

func workspaceTable(ws *client.Workspace) table {
	return table{
		header: []string{"name", "id", "description", "created_at", "created_by", "updated_at", "updated_by"},
		rows: [][]string{{ws.Name, ws.ID, strCell(ws.Description), timeCell(&ws.CreatedAt),
			strCell(ws.CreatedBy), timeCell(&ws.UpdatedAt), strCell(ws.UpdatedBy)}},
	}
}

func workspaceListTable(items []client.Workspace) table {
	t := table{header: []string{"name", "description", "created_at"}}
	for _, ws := range items {
		t.rows = append(t.rows, []string{ws.Name, strCell(ws.Description), timeCell(&ws.CreatedAt)})
	}
	return t
}

func memberTable(members ...client.Member) table {
	t := table{header: []string{"principal", "roles", "granted_at", "granted_by"}}
	for _, m := range members {
		t.rows = append(t.rows, []string{m.Principal, strings.Join(m.Roles, ","), timeCell(m.GrantedAt), strCell(m.GrantedBy)})
	}
	return t
}
